/**
 * memory: N idle containers (`sleep`) per runtime, first each alone in its shim, then grouped G per
 * shim with `--label io.containerd.runc.v2.group=<pod>` (the label becomes a spec annotation). Both
 * runtimes' containers are up at the same time and created alternately. For each runtime the
 * smaps_rollup of all its shim daemons (memory.ts: argv `-address <ours>` and the runtime's binary)
 * is summed and divided by N:
 *   - idle: `settle` seconds after the last container started;
 *   - after execs: `execs` × `ctr task exec /bin/true` per container (interleaved across
 *     containers and runtimes, `parallel` in flight);
 *   - after idle: `idle` seconds later.
 * Reported: PSS and Anonymous (for processes that share no anonymous pages — separate execs —
 * their private anonymous memory; Pss_Anon is in the JSON note), MiB per container.
 */
import { type Row, row } from '../lib/report';
import { argvOf } from '../../test/helpers/proc';
import { shimDaemons, sumSmaps, type Smaps } from '../lib/memory';
import { type Context, PAIR, type PerRuntime, type Runtime, pool, removeContainers, sleep, tag, timedCtr } from '../lib/context';
import { waitFor } from '../../test/helpers/wait';

export interface MemoryOptions {
  n: number;
  groupSize: number;
  execs: number;
  parallel: number;
  settleS: number;
  idleS: number;
}

type Mode = 'ungrouped' | 'grouped';
type Stage = 'idle' | 'after execs' | 'after idle';

interface Measured {
  stage: Stage;
  shims: number;
  smaps: Smaps;
}

export async function memory(ctx: Context, o: MemoryOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ['ungrouped', 'grouped'] as const) {
    const results = await phase(ctx, mode, o);
    const mib = (kib: number): number => kib / 1024 / o.n;
    for (const [i, m] of results[PAIR[0]].entries()) {
      const g = results[PAIR[1]][i];
      if (!g) continue;
      const shims = `${m.shims} vs ${g.shims} shims`;
      const pssGoal = mode === 'grouped' ? 1.0 : 2.0;
      rows.push(row('memory', `${mode} ${m.stage}: PSS / container`, 'MiB', [mib(m.smaps.pss)], [mib(g.smaps.pss)], { goal: { op: '<=', value: pssGoal }, note: shims }));
      rows.push(
        row('memory', `${mode} ${m.stage}: anon / container`, 'MiB', [mib(m.smaps.anonymous)], [mib(g.smaps.anonymous)], {
          note: `Anonymous; Pss_Anon ${mib(m.smaps.pssAnon).toFixed(2)} vs ${mib(g.smaps.pssAnon).toFixed(2)}, RSS ${mib(m.smaps.rss).toFixed(2)} vs ${mib(g.smaps.rss).toFixed(2)}`,
        }),
      );
    }
  }
  return rows;
}

async function phase(ctx: Context, mode: Mode, o: MemoryOptions): Promise<PerRuntime<Measured[]>> {
  const ids = { [PAIR[0]]: [] as string[], [PAIR[1]]: [] as string[] } as PerRuntime<string[]>;
  const all = (): string[] => [...ids[PAIR[0]], ...ids[PAIR[1]]];
  const drop = ctx.cleanup.add(`remove ${mode} memory containers`, () => removeContainers(ctx.ct, all()));
  const groups = { [PAIR[0]]: ctx.id('p'), [PAIR[1]]: ctx.id('p') } as PerRuntime<string>;
  for (let i = 0; i < o.n; i++) {
    for (const runtime of PAIR) {
      const id = ctx.id(`m${tag(runtime)}`);
      ids[runtime].push(id);
      const label = mode === 'grouped' ? ['--label', `io.containerd.runc.v2.group=${groups[runtime]}${Math.floor(i / o.groupSize)}`] : [];
      await timedCtr(ctx.ct, ['run', '-d', '--runtime', runtime, ...label, '--rootfs', ctx.rootfs, id, '/bin/sleep', '1000000']);
    }
  }
  const expectShims = mode === 'grouped' ? Math.ceil(o.n / o.groupSize) : o.n;
  const out = { [PAIR[0]]: [], [PAIR[1]]: [] } as PerRuntime<Measured[]>;
  const measure = (stage: Stage): void => {
    for (const runtime of PAIR) {
      const pids = shimDaemons(ctx.ct.address, runtime);
      // the long-running containers of the exec/ttrpc sections have their own shims: count only ours
      const mine = pids.filter((pid) => isShimOf(pid, ids[runtime]));
      if (mine.length !== expectShims) ctx.log(`memory ${mode} ${stage}: ${runtime} has ${mine.length} shims, expected ${expectShims}`);
      // our idle spare daemon is part of what our design costs: counted with our shims
      const spares = runtime === PAIR[0] ? ctx.ct.sparePids() : [];
      out[runtime].push({ stage, shims: mine.length, smaps: sumSmaps([...mine, ...spares]) });
    }
    ctx.log(`memory ${mode} ${stage}: measured`);
  };
  await sleep(o.settleS * 1000);
  measure('idle');
  if (o.execs > 0) {
    const jobs: [Runtime, string, number][] = [];
    for (let k = 0; k < o.execs; k++) for (let i = 0; i < o.n; i++) for (const runtime of PAIR) jobs.push([runtime, ids[runtime][i] ?? '', k]);
    let failed = 0;
    await pool(jobs, o.parallel, async ([, id, k]) => {
      const r = await ctx.ct.ctr(['task', 'exec', '--exec-id', `e${k}`, id, '/bin/true'], { timeoutMs: 120_000 });
      if (r.code !== 0) failed++;
    });
    if (failed > 0) ctx.log(`memory ${mode}: ${failed} of ${jobs.length} execs failed`);
    measure('after execs');
    await sleep(o.idleS * 1000);
    measure('after idle');
  }
  await removeContainers(ctx.ct, all());
  drop();
  await waitFor(() => PAIR.every((runtime) => shimDaemons(ctx.ct.address, runtime).filter((pid) => isShimOf(pid, ids[runtime])).length === 0), {
    timeoutMs: 30_000,
    what: `the ${mode} memory shims to exit`,
  }).catch((err: unknown) => ctx.log(String(err)));
  return out;
}

/** True when the daemon `pid` was started for one of `ids` (a group's daemon has the `-id` of its first container). */
function isShimOf(pid: number, ids: readonly string[]): boolean {
  const argv = argvOf(pid);
  const i = argv.indexOf('-id');
  return i >= 0 && ids.includes(argv[i + 1] ?? '');
}
