/**
 * Deadlines: the wire carries a relative `timeout_nano`; both sides work with an absolute deadline in
 * milliseconds since the epoch (Date.now() scale), and arm a timer for it.
 */

/** Longest delay setTimeout honours (2^31-1 ms, ~24.8 days); longer ones would fire at once. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The absolute deadline (ms epoch) for a received `timeout_nano`: undefined for 0 (no deadline); a negative
 * value is a deadline already past, as Go's `context.WithTimeout` makes it.
 */
export function deadlineFromTimeoutNano(timeoutNano: bigint, now: number): number | undefined {
  if (timeoutNano === 0n) return undefined;
  return now + Number(timeoutNano) / 1e6;
}

/** The `timeout_nano` to send for a deadline (ms epoch): at least 1 ns, as 0 would mean "no deadline". */
export function timeoutNanoFromDeadline(deadline: number, now: number): bigint {
  const ns = Math.round((deadline - now) * 1e6);
  return ns >= 1 ? BigInt(ns) : 1n;
}

/** The earlier of two optional deadlines. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** A one-shot timer firing at an absolute deadline, however far away (re-armed past setTimeout's limit). */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deadline: number,
    private readonly onExpire: () => void,
  ) {
    this.arm();
  }

  /** Stops the timer; harmless after it fired. */
  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const delay = this.deadline - Date.now();
    if (delay > MAX_TIMER_DELAY) {
      this.timer = setTimeout(() => this.arm(), MAX_TIMER_DELAY);
    } else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.onExpire();
      }, Math.max(0, delay));
    }
  }
}
