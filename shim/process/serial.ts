/**
 * Ordering tools for one process (STYLE A.2). In Node synchronous code is atomic but every `await`
 * is an interleaving point, so the Go shim's mutexes become two rules:
 *
 * - `OperationQueue`: lifecycle calls on one process (start, kill, pause, resume, delete, …) run one
 *   at a time, in arrival order — a Delete never interleaves with a Start awaiting runc;
 * - `Latch`: the process's exit is recorded exactly once, synchronously, when the reaper reports it,
 *   and every waiter (Wait RPCs, Delete) resolves from that one record.
 *
 * Exits are NOT queued behind operations: they are applied synchronously by the exit bookkeeping
 * (task/exits.ts), which knows how to hold them back while a start is in flight.
 */

/** Runs async operations one at a time, in order. */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private depth = 0;

  /** Runs `op` after every operation enqueued before it has settled. */
  run<T>(op: () => Promise<T>): Promise<T> {
    this.depth++;
    const result = this.tail.then(op, op);
    this.tail = result.then(
      () => this.depth--,
      () => this.depth--,
    );
    return result;
  }

  /** Operations enqueued and not settled. */
  get pending(): number {
    return this.depth;
  }
}

/** A value set once; waiters resolve when (or if already) set. */
export class Latch<T> {
  private value: T | undefined;
  private isSet = false;
  private readonly waiters: ((value: T) => void)[] = [];

  /** Sets the value (the first call wins; later calls are ignored and return false). */
  set(value: T): boolean {
    if (this.isSet) return false;
    this.isSet = true;
    this.value = value;
    for (const w of this.waiters.splice(0)) w(value);
    return true;
  }

  get done(): boolean {
    return this.isSet;
  }

  /** The value, if set. */
  get current(): T | undefined {
    return this.value;
  }

  /** Resolves with the value once set. */
  wait(): Promise<T> {
    if (this.isSet) return Promise.resolve(this.value as T);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
