/**
 * One lifecycle operation at a time per key (per container): every `await` is an interleaving point
 * in Node, so create/start/kill/stop/remove and the exit bookkeeping of one container are queued
 * here and run strictly in order, while different containers proceed concurrently.
 */

/** A FIFO of async operations per key. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `op` after every operation queued before it for `key`; resolves or rejects with its result. */
  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prior = this.tails.get(key) ?? Promise.resolve();
    const result = prior.then(op, op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** True when an operation for `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves once everything queued so far (for every key) has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
