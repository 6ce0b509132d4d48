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

/** The current time in nanoseconds since the epoch, with sub-millisecond precision. */
export function nowNs(): bigint {
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6));
}
