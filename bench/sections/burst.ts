/**
 * burst: N `ctr run -d … sleep` started at once; wall time until every one has returned (ctr run -d
 * returns after the task's Start, so all N are RUNNING — checked with `ctr task ls`). Ours and Go's
 * alternate per round; the containers are removed between rounds (not timed).
 */
import { performance } from 'node:perf_hooks';
import { type Row, row } from '../lib/report';
import { type Context, PAIR, type Runtime, removeContainers, samples, sleep, tag } from '../lib/context';

export async function burst(ctx: Context, n: number, rounds: number): Promise<Row[]> {
  const ms = samples();
  const once = async (runtime: Runtime): Promise<number> => {
    const ids = Array.from({ length: n }, () => ctx.id(`b${tag(runtime)}`));
    const drop = ctx.cleanup.add('remove burst containers', () => removeContainers(ctx.ct, ids));
    const t0 = performance.now();
    const results = await Promise.all(ids.map((id) => ctx.ct.ctr(['run', '-d', '--runtime', runtime, '--rootfs', ctx.rootfs, id, '/bin/sleep', '1000000'], { timeoutMs: 120_000 })));
    const wall = performance.now() - t0;
    const failed = results.filter((r) => r.code !== 0);
    const tasks = await ctx.ct.ctrOk(['task', 'ls']);
    const running = ids.filter((id) => new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(tasks)).length;
    await removeContainers(ctx.ct, ids);
    drop();
    if (failed.length > 0 || running !== n) throw new Error(`burst (${runtime}): ${failed.length} ctr run failed, ${running}/${n} running: ${failed[0]?.stderr ?? ''}`);
    await sleep(500); // let the shims of the removed containers exit before the next round
    return wall;
  };
  for (let i = 0; i < rounds; i++) {
    for (const runtime of PAIR) ms[runtime].push(await once(runtime));
  }
  ctx.log(`burst: ${rounds} rounds of ${n}`);
  return [row('burst', `${n} × ctr run -d at once, until all RUNNING`, 'ms', ms[PAIR[0]], ms[PAIR[1]], { goal: { op: '<=', value: 1.0 } })];
}
