/**
 * "Has this container's task exited yet?" as promises: `wait(id)` resolves when `fire(id)` is called
 * (immediately for a waiter that comes later, until `reset` starts a new task). Exits are applied
 * synchronously (task-manager.ts applyExit), so a latch never misses one.
 */

/** The longest delay setTimeout takes as given. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Latch {
  fired: boolean;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

/** One latch per container. */
export class ExitLatches {
  private readonly latches = new Map<string, Latch>();

  private latch(id: string): Latch {
    let latch = this.latches.get(id);
    if (latch === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      latch = { fired: false, promise, resolve };
      this.latches.set(id, latch);
    }
    return latch;
  }

  /** Resolves once the container's task has exited (or the container is gone). */
  wait(id: string): Promise<void> {
    return this.latch(id).promise;
  }

  /** Like wait, but gives up after `ms`, or once `giveUp` settles: resolves true when the exit came first. */
  async waitFor(id: string, ms: number, giveUp?: Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    // setTimeout fires at once for a delay past 2^31 − 1 ms (~24.8 days): wait at most that long
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.min(ms, MAX_TIMER_MS))));
    const racers = [this.wait(id).then(() => true), timeout];
    if (giveUp !== undefined) racers.push(giveUp.then(() => false, () => false));
    try {
      return await Promise.race(racers);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The task exited (or the container was removed). */
  fire(id: string): void {
    const latch = this.latch(id);
    latch.fired = true;
    latch.resolve();
  }

  /** A new task starts: later waiters wait for its exit. */
  reset(id: string): void {
    if (this.latches.get(id)?.fired === true) this.latches.delete(id);
  }

  /** Forgets a removed container (after firing its latch). */
  forget(id: string): void {
    this.fire(id);
    this.latches.delete(id);
  }
}
