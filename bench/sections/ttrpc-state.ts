/**
 * ttrpc: Task.State calls against the shim of a running container of each runtime, straight to the
 * shim's socket with our ttrpc client (one connection per runtime), sequential and with `inFlight`
 * outstanding. Each mode runs in `rounds` rounds alternating ours/Go's; calls/s is per round,
 * latency percentiles are over all calls.
 */
import { connectTask } from '../../test/helpers/shim-client';
import { type Row, row } from '../lib/report';
import { load, rate } from '../lib/load';
import { percentile } from '../lib/stats';
import { type Context, PAIR, type PerRuntime, samples } from '../lib/context';

export async function ttrpcState(ctx: Context, containers: PerRuntime<string>, calls: number, inFlight: number, rounds = 4): Promise<Row[]> {
  const clients = await Promise.all(PAIR.map((runtime) => connectTask(ctx.ct.shimSocket(containers[runtime]))));
  const rows: Row[] = [];
  try {
    for (const [mode, depth] of [
      ['sequential', 1],
      [`${inFlight} in flight`, inFlight],
    ] as const) {
      const perSec = samples();
      const lat = samples();
      for (const [i, runtime] of PAIR.entries()) {
        const { task } = clients[i] ?? {};
        if (task) await load(() => task.state({ id: containers[runtime], execId: '' }), 500, depth); // warm-up
      }
      for (let r = 0; r < rounds; r++) {
        for (const [i, runtime] of PAIR.entries()) {
          const task = clients[i]?.task;
          if (!task) continue;
          const round = await load(() => task.state({ id: containers[runtime], execId: '' }), Math.ceil(calls / rounds), depth);
          perSec[runtime].push(rate(round));
          lat[runtime].push(...round.latencies.map((ms) => ms * 1000));
        }
      }
      const [ours, go] = PAIR;
      const p = (xs: number[], q: number): number[] => [percentile([...xs].sort((a, b) => a - b), q)];
      rows.push(row('ttrpc', `State ${mode}`, 'calls/s', perSec[ours], perSec[go], { note: `${calls} calls per runtime in ${rounds} alternating rounds` }));
      rows.push(row('ttrpc', `State ${mode} p50`, 'µs', p(lat[ours], 50), p(lat[go], 50)));
      rows.push(row('ttrpc', `State ${mode} p99`, 'µs', p(lat[ours], 99), p(lat[go], 99)));
    }
  } finally {
    for (const c of clients) await c.close();
  }
  ctx.log(`ttrpc: State ×${calls} per mode`);
  return rows;
}
