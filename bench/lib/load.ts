/**
 * Unary-call load on one connection: `calls` calls with `inFlight` outstanding at a time (1 =
 * sequential), each call timed from issue to answer. Used for State against shims and for the
 * ttrpc client↔server comparison.
 */
import { performance } from 'node:perf_hooks';

/** The outcome of one load round. */
export interface LoadRound {
  calls: number;
  ms: number;
  /** Per-call latencies in ms, in completion order. */
  latencies: number[];
}

/** Runs `calls` calls of `call` with `inFlight` outstanding. */
export async function load(call: () => Promise<unknown>, calls: number, inFlight: number): Promise<LoadRound> {
  const latencies: number[] = [];
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < calls) {
      issued++;
      const s = performance.now();
      await call();
      latencies.push(performance.now() - s);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, calls)) }, worker));
  return { calls, ms: performance.now() - t0, latencies };
}

/** Calls per second of a round. */
export function rate(r: LoadRound): number {
  return r.ms > 0 ? (r.calls / r.ms) * 1000 : NaN;
}
