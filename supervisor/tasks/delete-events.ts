/**
 * The /tasks/delete of each task the supervisor deletes, kept in the stream's order.
 *
 * A shim publishes /tasks/delete when it deletes an init, but not necessarily before it answers
 * Delete: Go's runc shim hands the event to a goroutine that forwards it later, so the supervisor
 * could tear the task down and publish /containers/delete (of a `run --rm`) before the task's delete
 * reached the stream, or a shim that cannot reach the events socket never sends it. The teardown
 * therefore waits, bounded, for the shim's event (`waitFor`); when it does not come in time the
 * supervisor publishes one itself from the Delete answer (`publishedOurs`), and drops the shim's copy
 * if it still turns up (`arrived` says false).
 *
 * Events are matched by container id and init pid, so a late event of a task the container had
 * before a restart is not taken for the current one's. A pid of 0 (no init.pid) matches any.
 */

/** Ids of deletes we published ourselves, remembered so the shim's late copy is dropped; bounded. */
const MAX_OURS = 256;

interface Waiter {
  readonly pid: number;
  readonly resolve: (came: boolean) => void;
}

function samePid(a: number, b: number): boolean {
  return a === 0 || b === 0 || a === b;
}

/** The delete events of torn-down tasks. */
export class DeleteEvents {
  /** The pid of a shim's delete event that no teardown claimed yet, per container. */
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Waiter>();
  /** Deletes we published for a shim that did not, per container (insertion order: oldest first). */
  private readonly ours = new Map<string, number>();

  /**
   * A shim's /tasks/delete of an init: false when it repeats one we published (drop it). Kept for a
   * teardown to find only while the container exists (`known`): a late one of a removed container
   * would stay for ever.
   */
  arrived(id: string, pid: number, known = true): boolean {
    const mine = this.ours.get(id);
    if (mine !== undefined && samePid(mine, pid)) {
      this.ours.delete(id);
      return false;
    }
    const waiter = this.waiters.get(id);
    if (waiter !== undefined && samePid(waiter.pid, pid)) {
      this.waiters.delete(id);
      waiter.resolve(true);
    } else if (known) {
      this.seen.set(id, pid);
    }
    return true;
  }

  /** Whether the shim's delete event of (id, pid) came and no teardown took it yet; takes it. */
  came(id: string, pid: number): boolean {
    const seen = this.seen.get(id);
    if (seen === undefined || !samePid(seen, pid)) return false;
    this.seen.delete(id);
    return true;
  }

  /** Resolves true once the shim's delete event of (id, pid) has arrived, false after `ms` without it. */
  waitFor(id: string, pid: number, ms: number): Promise<boolean> {
    const seen = this.seen.get(id);
    this.seen.delete(id);
    if (seen !== undefined && samePid(seen, pid)) return Promise.resolve(true);
    this.waiters.get(id)?.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        if (this.waiters.get(id) === waiter) this.waiters.delete(id);
        resolve(false);
      }, ms);
      const waiter: Waiter = {
        pid,
        resolve: (came) => {
          clearTimeout(timer);
          resolve(came);
        },
      };
      this.waiters.set(id, waiter);
    });
  }

  /**
   * We published the delete of (id, pid) ourselves: the shim's copy, if it comes, is dropped. Not
   * with pid 0 (no init.pid): it would match the next task's delete, and drop that one.
   */
  publishedOurs(id: string, pid: number): void {
    this.ours.delete(id);
    if (pid === 0) return;
    this.ours.set(id, pid);
    if (this.ours.size > MAX_OURS) this.ours.delete(this.ours.keys().next().value as string);
  }

  /** A container is removed: nothing waits for it any more (a remembered own delete stays, bounded). */
  forget(id: string): void {
    this.seen.delete(id);
    this.waiters.get(id)?.resolve(false);
    this.waiters.delete(id);
  }
}
