/**
 * Where OOM notifications come from (PROTOCOL §11.4): one source per container, of the kind its
 * cgroup version offers. A source is polled synchronously — when its readiness fires, and by the
 * watcher's `flush` on the exit path — and answers whether an OOM happened since the last poll and
 * whether the cgroup is gone. Both kinds wait in Node's own event loop (a libuv poll handle on its
 * epoll, or libuv's inotify handle): no thread per container, no pool thread.
 *
 * Sources own their descriptors and watches and release them in `close`, which the watcher calls
 * exactly once per source (the one place anything of a source is closed).
 */
import { type FSWatcher, closeSync, existsSync, openSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FdWatch, type Native } from '../../native';
import { parseKeyValues, readOptionalSync } from '../cgroups/files';

/** What one poll found. */
export interface OomPoll {
  /** An OOM happened since the last poll (and has not been reported). */
  oom: boolean;
  /** The cgroup is gone (removed, or for v2 emptied): stop watching. */
  gone: boolean;
}

/** One container's OOM notifications. */
export interface OomSource {
  /** Consumes pending notifications; synchronous (no await between the check and the answer). */
  poll(): OomPoll;
  /** Releases everything the source holds. Called once. */
  close(): void;
}

/** Nothing happened. */
export const QUIET: OomPoll = { oom: false, gone: false };

/**
 * cgroup v1: an eventfd registered on the container's memory cgroup (the kernel's memcg
 * `oom_control` notifier) by writing `"<eventfd> <oom_control fd>"` to its `cgroup.event_control`.
 * The kernel adds to the eventfd's counter
 *
 * - when the cgroup hits its limit and the OOM killer is about to run — before the victim is sent
 *   SIGKILL (mem_cgroup_oom notifies, then kills), so by the time the victim's exit is reaped the
 *   counter is already non-zero: `poll` on the exit path always sees it;
 * - when the cgroup is removed (the registration is torn down), asynchronously after the rmdir.
 *
 * The eventfd is waited on through `native.watchFd`: a libuv poll handle on Node's own epoll — one
 * epoll for the whole shim, no thread per container, no pool thread. The oom_control fd is only
 * needed for the registration and is closed right after it (the kernel keeps its own reference).
 */
export class EventfdOomSource implements OomSource {
  private readonly watch: FdWatch;
  private closed = false;

  private constructor(
    private readonly native: Native,
    private readonly dir: string,
    private readonly efd: number,
    onReady: () => void,
  ) {
    this.watch = native.watchFd(efd, () => onReady());
  }

  /**
   * Registers for OOM notifications of the memory cgroup at `dir`; `onReady` runs (from the event
   * loop) whenever the eventfd is readable. Throws (holding nothing) when the cgroup cannot be
   * registered on.
   */
  static open(native: Native, dir: string, onReady: () => void): EventfdOomSource {
    const efd = native.eventfd();
    try {
      const control = openSync(join(dir, 'memory.oom_control'), 'r');
      try {
        writeFileSync(join(dir, 'cgroup.event_control'), `${efd} ${control}`);
      } finally {
        closeSync(control);
      }
      return new EventfdOomSource(native, dir, efd, onReady);
    } catch (err) {
      native.close(efd);
      throw err;
    }
  }

  /** Reads (and so resets) the counter: non-zero is an OOM, unless the cgroup is gone. */
  poll(): OomPoll {
    if (this.closed) return QUIET;
    const count = this.native.readEventfd(this.efd);
    if (count === null) return QUIET;
    const gone = !existsSync(this.dir);
    return { oom: !gone, gone };
  }

  /** Stops watching, then closes the eventfd. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    this.native.close(this.efd);
  }
}

/** memory.events' `oom_kill`, or undefined when the file cannot be read. */
function readOomKills(dir: string): bigint | undefined {
  const text = readOptionalSync(join(dir, 'memory.events'));
  return text === undefined ? undefined : (parseKeyValues(text).get('oom_kill') ?? 0n);
}

/** cgroup.events says `populated 0`. */
function isEmptied(dir: string): boolean {
  const text = readOptionalSync(join(dir, 'cgroup.events'));
  return text !== undefined && parseKeyValues(text).get('populated') === 0n;
}

/**
 * cgroup v2: inotify (`fs.watch`, libuv's inotify handle in the event loop — no thread) on the
 * cgroup's `memory.events` and `cgroup.events`. Each notification re-reads `memory.events`; an
 * `oom_kill` count above the last one seen is an OOM. The kernel
 * raises `oom_kill` before it sends the victim SIGKILL ("raise event before sending signal"), so a
 * poll on the victim's exit path always sees the new count.
 *
 * The cgroup is gone when `memory.events` cannot be read (removed) or `cgroup.events` says
 * `populated 0` (emptied: nothing left to be OOM-killed); the poll that finds it gone still
 * reports an OOM it sees, so a kill is never lost to the watch stopping.
 */
export class MemoryEventsOomSource implements OomSource {
  private readonly watchers: FSWatcher[] = [];
  private closed = false;

  private constructor(
    private readonly dir: string,
    private last: bigint,
  ) {}

  /**
   * Starts watching the cgroup at `dir`, counting OOM kills from now on; `onReady` runs (from the
   * event loop) on every change. Throws (holding nothing) when the cgroup has no memory.events.
   */
  static open(dir: string, onReady: () => void): MemoryEventsOomSource {
    const start = readOomKills(dir);
    if (start === undefined) throw new Error(`${join(dir, 'memory.events')} cannot be read`);
    const source = new MemoryEventsOomSource(dir, start);
    try {
      for (const name of ['memory.events', 'cgroup.events']) {
        const watcher = watch(join(dir, name), { persistent: true }, () => onReady());
        // the file vanishing with its cgroup arrives as an error on some kernels: poll, and see it gone
        watcher.on('error', () => onReady());
        source.watchers.push(watcher);
      }
    } catch (err) {
      source.close();
      throw err;
    }
    return source;
  }

  /** Re-reads memory.events (and cgroup.events): a larger oom_kill is an OOM. */
  poll(): OomPoll {
    if (this.closed) return QUIET;
    const kills = readOomKills(this.dir);
    if (kills === undefined) return { oom: false, gone: true };
    const oom = kills > this.last;
    if (oom) this.last = kills;
    return { oom, gone: isEmptied(this.dir) };
  }

  /** Closes the inotify watches. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }
}
