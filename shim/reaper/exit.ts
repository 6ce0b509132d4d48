/** An exit as the shim records it: who, how, and when (nanoseconds since the epoch). */
export interface Exit {
  pid: number;
  /** The exit code, or 128 + the signal number when a signal ended the process. */
  status: number;
  /** The signal that ended it, when one did. */
  signal?: number;
  /** When the shim learnt of it, in nanoseconds since the Unix epoch. */
  at: bigint;
}

/** How far the wall clock may part from the anchored monotonic one before the anchor moves. */
const REANCHOR_NS = 5_000_000n;

/**
 * A clock in nanoseconds since the epoch: the monotonic clock (exact to the nanosecond, never
 * back) anchored to the wall clock, and anchored again whenever the two part by more than 5 ms —
 * the wall clock was stepped (NTP, an admin), or the machine slept (the monotonic clock stops
 * then). An anchor taken once would carry the error for the life of the process, and of every
 * daemon forked from the spare that took it: exit times, which the CRI plugin turns into a
 * container's FinishedAt (kubelet's restart backoff counts from it), would be off by the jump.
 * Go's shim stamps exits with the wall clock.
 *
 * (The global `performance` would anchor once too, and its first use loads perf_hooks and eight
 * modules more: ~0.4 ms of every daemon's start.)
 */
export function anchoredClock(wallMs: () => number = Date.now, monotonicNs: () => bigint = () => process.hrtime.bigint()): () => bigint {
  let offset: bigint | undefined;
  return () => {
    const mono = monotonicNs();
    const wall = BigInt(wallMs()) * 1_000_000n;
    if (offset !== undefined) {
      const t = mono + offset;
      const drift = t - wall;
      // wall is whole milliseconds: t stays within a millisecond of it, either side
      if (drift > -REANCHOR_NS && drift < REANCHOR_NS) return t;
    }
    offset = wall - mono;
    return wall;
  };
}

/** The current time in nanoseconds since the epoch, with sub-millisecond precision. */
export const nowNs: () => bigint = anchoredClock();
