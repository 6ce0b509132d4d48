/**
 * startup: the start-up path of a shim, outside containerd, with a fake bundle (lib/hand-shim.ts):
 *   - `start`: the process containerd runs to get an address (it spawns the daemon and exits);
 *   - ready: from `start`'s exit to the daemon's first answer (Task.Connect on the socket — the
 *     listener exists already, so this is the daemon's start-up plus its first request);
 *   - `delete`: the process containerd runs after the task (runc delete --force of a missing container);
 *   - floors: `node -e 0` vs Go's shim `-v`, and each shim's `-v` (our `-v` loads main.js only).
 * Ours and Go's alternate per iteration; the daemon is shut down (Task.Shutdown) between start and delete.
 */
import { cleanEnv } from '../../test/helpers/containerd';
import { type Row, row } from '../lib/report';
import { type Context, PAIR, type Runtime, OUR_RUNTIME, samples } from '../lib/context';
import { GOS, GO_SHIM, OURS, SHIM, bundleFor, firstAnswer, removeLeftovers, shimAction, stopDaemon, timedExec } from '../lib/hand-shim';

export async function startup(ctx: Context, runs: number): Promise<Row[]> {
  const start = samples();
  const ready = samples();
  const total = samples();
  const del = samples();
  const version = samples();
  const floor = samples();
  const namespace = ctx.id('su');
  const once = async (runtime: Runtime, record: boolean): Promise<void> => {
    const shim = runtime === OUR_RUNTIME ? OURS : GOS;
    const b = bundleFor(ctx.id('s'), namespace);
    const drop = ctx.cleanup.add('remove hand-run shim', () => removeLeftovers(b));
    try {
      const s = await shimAction(shim, b, 'start');
      if (s.code !== 0) throw new Error(`${shim.command} start exited ${s.code}: ${s.stdout}${s.stderr}`);
      const r = await firstAnswer(b);
      await stopDaemon(b, r.pid);
      const d = await shimAction(shim, b, 'delete');
      if (d.code !== 0) throw new Error(`${shim.command} delete exited ${d.code}: ${d.stderr}`);
      const v = await timedExec(runtime === OUR_RUNTIME ? SHIM : GO_SHIM, ['-v']);
      const f = runtime === OUR_RUNTIME ? await timedExec(process.execPath, ['-e', '0'], { env: cleanEnv() }) : await timedExec('/bin/true', []);
      if (!record) return;
      start[runtime].push(s.ms);
      ready[runtime].push(r.ms);
      total[runtime].push(s.ms + r.ms);
      del[runtime].push(d.ms);
      version[runtime].push(v.ms);
      floor[runtime].push(f.ms);
    } finally {
      removeLeftovers(b);
      drop();
    }
  };
  for (const runtime of PAIR) await once(runtime, false);
  for (let i = 0; i < runs; i++) for (const runtime of PAIR) await once(runtime, true);
  ctx.log(`startup: ${runs} runs each`);
  const [ours, go] = PAIR;
  return [
    row('startup', '`start` process', 'ms', start[ours], start[go], { note: 'fake bundle, containerd argv; spawns the daemon' }),
    row('startup', 'daemon ready after `start` exits', 'ms', ready[ours], ready[go], { note: 'first Task.Connect answered' }),
    row('startup', '`start` + ready', 'ms', total[ours], total[go]),
    row('startup', '`delete` process', 'ms', del[ours], del[go], { note: 'runc delete --force of a missing container' }),
    row('startup', 'shim -v', 'ms', version[ours], version[go]),
    row('startup', 'floor: node -e 0 vs /bin/true', 'ms', floor[ours], floor[go]),
  ];
}
