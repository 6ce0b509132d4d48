/**
 * exec: `ctr task exec --exec-id ID C /bin/true` in a running container (one per runtime, running
 * `sleep`), after one unmeasured warm-up exec each; in pairs whose order alternates (AB BA AB …), so
 * that neither runtime always runs while the other's shim finishes its last exec (event acks, a
 * scavenge). 100 runs each: an exec is ~50 ms, and 30 left the ratio ±5 % from run to run here. The
 * containers stay up for the ttrpc State section and are removed at the end of the run.
 */
import { type Row, row } from '../lib/report';
import { type Context, PAIR, type PerRuntime, type Runtime, removeContainers, samples, tag, timedCtr } from '../lib/context';

/** One long-running container per runtime, created once per run. */
export async function runningContainers(ctx: Context): Promise<PerRuntime<string>> {
  const ids = {} as PerRuntime<string>;
  for (const runtime of PAIR) {
    const id = ctx.id(`r${tag(runtime)}`);
    await timedCtr(ctx.ct, ['run', '-d', '--runtime', runtime, '--rootfs', ctx.rootfs, id, '/bin/sleep', '1000000']);
    ctx.cleanup.add(`remove ${id}`, () => removeContainers(ctx.ct, [id]));
    ids[runtime] = id;
  }
  return ids;
}

export async function exec(ctx: Context, containers: PerRuntime<string>, runs: number): Promise<Row[]> {
  const ms = samples();
  let n = 0;
  const execOnce = async (runtime: Runtime): Promise<number> => (await timedCtr(ctx.ct, ['task', 'exec', '--exec-id', `x${n++}`, containers[runtime], '/bin/true'], 60_000)).ms;
  for (const runtime of PAIR) await execOnce(runtime);
  for (let i = 0; i < runs; i++) {
    for (const runtime of i % 2 === 0 ? PAIR : [...PAIR].reverse()) ms[runtime].push(await execOnce(runtime));
  }
  ctx.log(`exec: ${runs} runs each`);
  return [row('exec', 'ctr task exec /bin/true', 'ms', ms[PAIR[0]], ms[PAIR[1]], { goal: { op: '<=', value: 1.0 }, note: 'wall time of ctr task exec in a running container' })];
}
