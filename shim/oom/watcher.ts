/**
 * The shim's one OOM watcher (PROTOCOL §11.4, §8.3): every container's OOM source, each reporting
 * `/tasks/oom {container_id}` through `publish` — which must queue synchronously on the shim's one
 * ordered event queue.
 *
 * Ordering contract — the OOM event of a container is queued before the exit event of any of its
 * processes that exits after the OOM:
 *
 * - the kernel records the OOM (v1 eventfd counter, v2 memory.events `oom_kill`) before it sends
 *   the victim SIGKILL, so when the victim's exit is reaped the OOM is already readable;
 * - but the eventfd / inotify readiness and SIGCHLD are separate libuv events, and nothing orders
 *   their callbacks. So the exit path calls `flush(containerId)` synchronously right before it
 *   queues a TaskExit of that container: flush polls the source — the same non-blocking read the
 *   readiness callback does — and publishes a pending OOM first. Whichever of the two runs first
 *   consumes the notification; the other finds nothing. Both run on the one JS thread, so an OOM is
 *   published exactly once and always before the exit.
 *
 * And after the container's start event: a container that dies of its limit at once can be
 * OOM-killed while `runc start` still runs, before the shim queued `/tasks/start` (seen in CI:
 * create, oom, start, exit). While its init starts (`defer`, from the Start call) an OOM found by
 * a notification is kept, and published when the deferral ends, right after the start event is
 * queued. `flush` does not wait: the exit contract comes first.
 *
 * Sources are closed in exactly one place (`stop`): when a poll finds the cgroup gone, when the
 * container is deleted (`unwatch`), or at shutdown (`close`).
 */
import { type Native } from '../../native';
import { type CgroupPaths } from '../cgroups/paths';
import { type Logger, errorMessage, silentLogger } from '../util/log';
import { EventfdOomSource, MemoryEventsOomSource, type OomPoll, type OomSource } from './sources';

/** What the watcher needs from the shim. */
export interface OomWatcherDeps {
  native: Native;
  /** Queues `/tasks/oom` for a container; synchronous. */
  publish: (containerId: string) => void;
  log?: Logger;
}

/** Watches the containers' cgroups for OOM kills. */
export class OomWatcher {
  private readonly sources = new Map<string, OomSource>();
  /** Containers whose OOM events wait for their start event, and whether one was found meanwhile. */
  private readonly deferred = new Map<string, { holds: number; pending: boolean }>();
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly deps: OomWatcherDeps) {
    this.log = deps.log ?? silentLogger;
  }

  /** Containers watched now. */
  get size(): number {
    return this.sources.size;
  }

  /**
   * Starts watching container `id`'s cgroup (at Create). Never throws: a cgroup without a memory
   * controller, or one the kernel refuses to register on, is logged and left unwatched.
   */
  watch(id: string, paths: CgroupPaths): void {
    if (this.closed) return;
    this.stop(id); // a re-created id: never two sources for one container
    let source: OomSource | undefined;
    try {
      source = openSource(this.deps.native, paths, () => this.check(id, source, 'notification'));
    } catch (err) {
      this.log.warn('cannot watch the container for OOM kills', { task: id, error: errorMessage(err) });
      return;
    }
    if (source) this.sources.set(id, source);
    else this.log.debug('no memory cgroup: OOM kills are not watched', { task: id });
  }

  /**
   * The exit path's hook: publishes an OOM of container `id` that happened and was not published
   * yet. Synchronous; call it right before queueing a TaskExit of that container.
   */
  flush(id: string): void {
    this.check(id, this.sources.get(id), 'exit');
  }

  /**
   * Holds container `id`'s OOM events until the returned release is called (once the start event
   * is queued); an OOM found meanwhile is published then. Releasing twice is harmless.
   */
  defer(id: string): () => void {
    const held = this.deferred.get(id) ?? { holds: 0, pending: false };
    held.holds++;
    this.deferred.set(id, held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--held.holds > 0) return;
      this.deferred.delete(id);
      if (held.pending) this.publish(id, 'after start');
    };
  }

  /** Stops watching a deleted container. */
  unwatch(id: string): void {
    this.stop(id);
  }

  /** Stops watching everything (shutdown). Idempotent. */
  close(): void {
    this.closed = true;
    for (const id of [...this.sources.keys()]) this.stop(id);
  }

  /** Polls the source of `id` (only while it is the registered one) and acts on what it found. */
  private check(id: string, source: OomSource | undefined, via: 'notification' | 'exit'): void {
    const held = this.deferred.get(id);
    if (via === 'exit' && held?.pending) {
      held.pending = false; // found earlier, held for the start event: the exit cannot wait
      this.publish(id, 'exit');
    }
    if (!source || this.sources.get(id) !== source) return;
    let found: OomPoll;
    try {
      found = source.poll();
    } catch (err) {
      this.log.warn('OOM watch failed: stopping it', { task: id, error: errorMessage(err) });
      this.stop(id);
      return;
    }
    if (found.oom) {
      if (held && via === 'notification') held.pending = true;
      else this.publish(id, via);
    }
    if (found.gone) this.stop(id);
  }

  private publish(id: string, via: string): void {
    this.log.info('container OOM-killed', { task: id, via });
    try {
      this.deps.publish(id);
    } catch (err) {
      // never let the exit path that flushed fail because of the OOM event
      this.log.warn('cannot publish the OOM event', { task: id, error: errorMessage(err) });
    }
  }

  /** The one place a source is closed. */
  private stop(id: string): void {
    const source = this.sources.get(id);
    if (!source) return;
    this.sources.delete(id);
    try {
      source.close();
    } catch (err) {
      this.log.warn('closing an OOM watch failed', { task: id, error: errorMessage(err) });
    }
  }
}

/** The kernel's mechanism for the cgroup's version; undefined without a memory controller (v1). */
function openSource(native: Native, paths: CgroupPaths, onReady: () => void): OomSource | undefined {
  if (paths.version === 2) return MemoryEventsOomSource.open(paths.dir, onReady);
  const memory = paths.controllers.get('memory');
  return memory === undefined ? undefined : EventfdOomSource.open(native, memory, onReady);
}
