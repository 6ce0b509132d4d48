/**
 * What a daemon gives back once calls stop coming: a full garbage collection when it owns enough
 * memory for one to pay (the issue's "a gc after bursts"), then malloc_trim; after IDLE_MS, one more
 * collection and the pages of the files it has mapped (below).
 *
 * Why the daemon needs it: V8 starts a mark-compact only when the old generation reaches its
 * allocation limit, tens of MiB on this kind of machine, and a daemon never gets there. What its
 * calls allocate and keep for a few scavenges (an exec's process spec, the records of runc runs) is
 * promoted and stays, dead, in old-space pages the daemon wrote itself: a forked daemon's old space
 * grew 4.7 → 8.7 MiB over 400 execs, 3 MiB of it garbage. A collection with compaction
 * (`--compact-on-every-full-gc`, start.ts) gave those pages back; without compaction it freed the
 * objects and not one page.
 *
 * When it pays: most daemons are forks of the spare (native/fork.ts) and share its pages until they
 * write them. A full collection writes to every page it sweeps, and compaction copies what is live
 * into pages of the daemon's own: collecting after a task's start cost each idle daemon ~2 MiB of
 * PSS more in the memory bench. What the daemon owns (the kernel's Private_Dirty, pages no other
 * process maps) says when a collection frees more than it takes: a forked daemon owns 4–4.5 MiB
 * after its task's start, 8–10 after 60 execs and 10.6–12.9 after 200; a collection and the idle
 * one below leave ~7.5. So the collector collects when the daemon owns OWNED_MIN (8 MiB), and
 * OWNED_GROWTH (1 MiB) more than right after its last collection. Reading /proc/self/smaps_rollup
 * costs ~0.7 ms, once per quiet period, off every call's path; a kernel without it (before 4.14)
 * gets no collections. (It used to go by 2 MiB of growth of V8's heap in use, which swings by up
 * to a MiB with the young generation and drops when V8's memory reducer collects: some daemons
 * were still short of it after 200 execs and never collected, and kept 12.8 MiB of their own where
 * the others kept 7.5.)
 *
 * Then, when a collection was made and calls stay away IDLE_MS, one more: the idle collection.
 * V8 shrinks the young generation (gives back one of its two semi-spaces, and the pages of the
 * other that nothing uses) only in a full collection that finds the allocation rate low: under
 * 1000 bytes/ms and not zero, reckoned over its last samples, up to 5 s (Heap::ShouldResizeNewSpace
 * and GCTracer). The collection a second after a burst does not find that, so after 200 execs a
 * forked daemon kept 2 MiB of young generation, all of it its own. Collected again after 10 idle
 * seconds, it keeps 1 MiB: the daemon's private memory 9.4 → 8.4 MiB. A second full collection
 * right after it gives back the pages of the remaining semi-space that nothing uses (resident
 * 1024 → 268 KiB; measured in forked daemons and in the unit test, not traced in V8): 8.4 → 7.5.
 * (What the collector allocates after a collection — reading what it owns, the idle timer — keeps
 * the rate from being zero.) V8's memory reducer alone is not enough: it runs 8 s after some full
 * collections and not after others (a few, then it waits for the heap to grow), and in the bench
 * daemons that had collected during a long run of execs kept both semi-spaces through an idle
 * minute. Only after a collection: the heap is the daemon's own by then, so the idle one costs no
 * shared page; and once for each, so a daemon probed every few seconds does not collect every
 * time.
 *
 * And after IDLE_MS with no call, whether or not it collected, the daemon unmaps the pages of the
 * executable and libraries it has mapped (`release`, native/pages.ts). PSS counts a page of a file
 * mapping to each process that maps it: a forked daemon keeps ~17 MiB of /usr/bin/node mapped after
 * its task's start and its calls (a Node process started for one task ~34), ~1.2 MiB of PSS each
 * beside twenty others, where an idle daemon runs next to none of it. The pages stay in the page
 * cache; the next call maps what it runs again, with minor faults. Only when idle, so a daemon that
 * answers a call every second or so does not fault its code in again each time; a probe every 10 s
 * or more pays it each time. Then a malloc trim, which a daemon that never collected never had: what
 * its calls freed in malloc's heap (~0.1 MiB). Twenty forks after 200 execs each and the idle time,
 * spare included: 8.04–8.13 → 7.42–7.48 MiB of PSS per container (docs/benchmarks.md).
 *
 * `gc` is V8's, exposed by `--expose-gc` (the forking spare's node options, and so its forks'); in
 * a daemon without it the collector only releases. Timers unref'd: the quiet one re-armed after each
 * answer with `refresh()`, the idle one cleared by an answer; nothing wakes the process while it is
 * idle but those two, and a daemon kept busy (execs back to back) never collects in the middle of
 * its work.
 */

import { readFileSync } from 'node:fs';

/** What the collector reads and calls; the defaults are the process's own. */
export interface IdleReclaimOptions {
  /** V8's full collection; undefined when the process runs without `--expose-gc`. */
  gc?: (() => void) | undefined;
  /** Gives freed malloc memory back to the kernel after the collection (native trimMalloc). */
  trim?: () => void;
  /** Unmaps the pages of read-only file mappings once idle (native releaseFilePages); none if absent. */
  release?: (() => void) | undefined;
  /** Bytes of memory the process owns (ownedMemory). */
  owned?: () => number;
  /** Quiet time after the last answer before collecting. */
  quietMs?: number;
  /** Owned memory below which collecting is not worth it. */
  ownedMin?: number;
  /** Growth of owned memory since right after the last collection below which collecting does not pay. */
  ownedGrowth?: number;
  /** Quiet time after the last answer before the idle collection (which follows a collection) and the release. */
  idleMs?: number;
}

/** A second with no call: a burst (a start, a probe's exec, `ctr task exec` in a loop) is over. */
export const QUIET_MS = 1000;
/** A forked daemon owns less before its execs or other calls have made a collection worth it. */
export const OWNED_MIN = 8 * 1024 * 1024;
/** Less growth since the last collection is left for the next time (a group's daemon owns more). */
export const OWNED_GROWTH = 1024 * 1024;
/** Ten idle seconds: V8 then finds the allocation rate low enough to shrink the young generation. */
export const IDLE_MS = 10_000;

/** Gives memory back once calls stop coming (collections, a malloc trim, file pages); `touch()` after each answer, `stop()` when serving ends. */
export class IdleReclaim {
  private readonly gc: (() => void) | undefined;
  private readonly trim: () => void;
  private readonly release: (() => void) | undefined;
  private readonly owned: () => number;
  private readonly quietMs: number;
  private readonly ownedMin: number;
  private readonly ownedGrowth: number;
  private readonly idleMs: number;
  private timer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** A collection was made since the last idle one. */
  private idleDue = false;
  private stopped = false;
  /** Owned memory right after the last collection (0 before the first). */
  private ownedAfter = 0;
  /** Collections made (idle ones included), for tests and the diagnostic report. */
  collections = 0;
  /** Idle collections made. */
  idleCollections = 0;
  /** Releases of file pages made. */
  releases = 0;

  constructor(options: IdleReclaimOptions = {}) {
    this.gc = 'gc' in options ? options.gc : exposedGc();
    this.trim = options.trim ?? (() => undefined);
    this.release = options.release;
    this.owned = options.owned ?? ownedMemory;
    this.quietMs = options.quietMs ?? QUIET_MS;
    this.ownedMin = options.ownedMin ?? OWNED_MIN;
    this.ownedGrowth = options.ownedGrowth ?? OWNED_GROWTH;
    this.idleMs = Math.max(options.idleMs ?? IDLE_MS, this.quietMs);
  }

  /** True when there is a `gc` or a `release` to call. */
  get enabled(): boolean {
    return this.gc !== undefined || this.release !== undefined;
  }

  /** A call was answered: (re)starts the quiet period. */
  touch(): void {
    if (!this.enabled || this.stopped) return;
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.quiet(), this.quietMs);
      this.timer.unref();
    } else {
      this.timer.refresh();
    }
  }

  /** Serving ended: no collection after this. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.timer = undefined;
    this.idleTimer = undefined;
  }

  private quiet(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.gc !== undefined && this.owned() >= Math.max(this.ownedMin, this.ownedAfter + this.ownedGrowth)) {
      this.collect(this.gc);
      this.idleDue = true;
    }
    if (!this.idleDue && this.release === undefined) return;
    this.idleTimer = setTimeout(() => this.idle(), this.idleMs - this.quietMs);
    this.idleTimer.unref();
  }

  private idle(): void {
    this.idleTimer = undefined;
    if (this.stopped) return;
    const gc = this.idleDue ? this.gc : undefined;
    this.idleDue = false;
    if (gc !== undefined) {
      gc(); // gives back a semi-space
      gc(); // and the unused pages of the other
      this.idleCollections++;
    }
    if (this.release !== undefined) {
      this.release(); // after the collections, whose code it would otherwise map again
      this.releases++;
    }
    // one trim for both: what the collections and the calls before freed in malloc's heap
    if (gc !== undefined) this.collected();
    else if (this.release !== undefined) this.trim();
  }

  private collect(gc: () => void): void {
    gc();
    this.collected();
  }

  private collected(): void {
    this.trim(); // what the collection freed outside V8's heap (buffers' memory) is malloc's
    this.collections++;
    this.ownedAfter = this.owned();
  }
}

/** Bytes of memory no other process maps (Private_Dirty of /proc/self/smaps_rollup); 0 if unknown. */
export function ownedMemory(): number {
  try {
    const kib = /^Private_Dirty:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/smaps_rollup', 'latin1'))?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}

/** V8's `gc` when the process was started with `--expose-gc`. */
function exposedGc(): (() => void) | undefined {
  const gc: unknown = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => void (gc as () => unknown)() : undefined;
}
