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

// The epoch, on the monotonic clock: times within a process are as exact as hrtime, their offset
// from the wall clock within a millisecond. (The global `performance` would do the same, but its
// first use loads perf_hooks and eight modules more: ~0.4 ms of every daemon's start.)
const EPOCH_ON_HRTIME = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** The current time in nanoseconds since the epoch, with sub-millisecond precision. */
export function nowNs(): bigint {
  return EPOCH_ON_HRTIME + process.hrtime.bigint();
}
