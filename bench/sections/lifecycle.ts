/**
 * lifecycle: `ctr run --rm --runtime R --rootfs busybox ID /bin/true` — create, start, exit, delete
 * (and for ours: the `start` process, the daemon's start-up, the `delete` process) — timed as ctr's
 * wall time, ours and Go's alternating (ABAB…), after one unmeasured warm-up run each.
 */
import { type Row, row } from '../lib/report';
import { type Context, PAIR, samples, tag, timedCtr } from '../lib/context';

export async function lifecycle(ctx: Context, runs: number): Promise<Row[]> {
  const ms = samples();
  const runOnce = (runtime: (typeof PAIR)[number], prefix: string): Promise<{ ms: number }> =>
    timedCtr(ctx.ct, ['run', '--rm', '--runtime', runtime, '--rootfs', ctx.rootfs, ctx.id(`${prefix}${tag(runtime)}`), '/bin/true'], 60_000);
  for (const runtime of PAIR) await runOnce(runtime, 'lw');
  for (let i = 0; i < runs; i++) {
    for (const runtime of PAIR) ms[runtime].push((await runOnce(runtime, 'l')).ms);
  }
  ctx.log(`lifecycle: ${runs} runs each`);
  return [row('lifecycle', 'ctr run --rm /bin/true', 'ms', ms[PAIR[0]], ms[PAIR[1]], { goal: { op: '<=', value: 1.0 }, note: 'wall time of ctr run --rm: create, start, exit, delete' })];
}
