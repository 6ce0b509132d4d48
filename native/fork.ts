/**
 * fork(2) of a Node process: a copy that shares every page it does not write with the original
 * (copy-on-write). The spare daemon (shim/manager/spare.ts) forks one per task instead of starting
 * Node for it: ~1 ms instead of ~25 ms of start-up, and twenty daemons share most of one heap.
 *
 * Only the calling thread exists in the copy, and Node assumes more; what this file does about it:
 *  - V8 maps its heap MADV_DONTFORK (Node builds it with the private-mapping fork optimisation): a
 *    copy would fault on its first heap access. Every private anonymous mapping is made MADV_DOFORK
 *    again just before each fork.
 *  - V8's worker threads are gone: the process must run with `--single-threaded` (V8 then posts no
 *    background tasks) and Node's `--v8-pool-size=1`, which forkDetached checks: with a pool of two
 *    or more, a copy hung in a futex on its first full collection (measured here; with one it ran
 *    and collected). libuv's thread pool restarts on its own (its
 *    pthread_atfork handler), and uv_loop_fork gives the copy its own epoll, async and signal fds.
 *  - process.pid is a value Node stored at start-up: redefined.
 *  - Node's exit joins its platform threads, which the copy does not have: it would hang (or abort
 *    on a failed join). The copy ends with _exit(2) instead, after the 'exit' event (process.emit
 *    is wrapped: every listener runs, then _exit, even if one throws); an uncaught exception is
 *    printed first (Node would print it only after 'exit').
 *  - A page V8 maps between the last read of /proc/self/maps and the fork stays MADV_DONTFORK and
 *    is missing in the middle process and the copy, which die on touching it (SIGSEGV). The reads
 *    repeat until nothing is new, which makes it rare, not impossible: on Node 24 the e2e suite's
 *    bursts lost about one fork a run (once the middle was killed by SIGSEGV before its own fork). The caller
 *    learns of a middle that did not exit 0 (onMiddleFailed) and can fork again; a copy that dies
 *    is not our child, and its caller has to notice that the copy's work was not done.
 *  - The copy is not our child: a middle process forks it and exits at once (reaped from the event
 *    loop, reapMiddle), so it is re-parented as a daemon spawned and left would be, and leads its
 *    own session.
 */
import { readFileSync, writeSync } from 'node:fs';
import { check } from './check';
import { forkRefusal } from './fork-requirements';
import { type Libc } from './libc';
import { type ExitInfo, type FdWatch } from './types';
import { watchFd } from './poll';
import { pidfdOpen, waitPidBlocking, waitPidfd } from './process';

const MADV_DOFORK = 11;
/** madvise on a range no longer mapped. */
const ENOMEM = 12;
/** Reads of /proc/self/maps before a fork gives up (keepMappingsOnFork). */
const MAX_ROUNDS = 8;
/** The middle process's exit code when its own fork failed. */
const MIDDLE_FORK_FAILED = 71;
/** The copy's exit code when it cannot be made a working Node process (its event loop, …). */
const LOOP_FORK_FAILED = 70;

/**
 * Forks a detached copy of this process; true in the copy, false here. Throws when the fork failed;
 * a middle process that fails or dies is told to `onMiddleFailed`, later (reapMiddle).
 */
export function forkDetached(libc: Libc, onMiddleFailed?: (exit: ExitInfo) => void): boolean {
  const refusal = forkRefusal();
  if (refusal !== undefined) throw new Error(refusal);
  scavenge();
  keepMappingsOnFork(libc);
  const middle = check(libc, libc.fork(), 'fork');
  if (middle === 0) {
    // nothing but a fork and an exit runs here
    const pid = libc.fork();
    if (pid !== 0) libc._exit(pid < 0 ? MIDDLE_FORK_FAILED : 0);
    try {
      becomeCopy(libc);
    } catch {
      // never back into the caller half made: it would take the copy for the original
      libc._exit(LOOP_FORK_FAILED);
    }
    return true;
  }
  reapMiddle(libc, middle, onMiddleFailed);
  return false;
}

/**
 * Reaps the middle process, which exits as soon as it has forked the copy, once its pidfd says it
 * has: waiting for it here cost the caller 1.1–2.6 ms per fork (the middle's own fork and its
 * exit), and a spare makes a burst's forks one after the other. A middle whose fork failed
 * (MIDDLE_FORK_FAILED), or that died, most likely left no copy: `onFailed` is told, so that the
 * caller can fork again rather than leave the request to its requester's watchdog (spare.ts). A
 * copy made meanwhile inherits the watch; the middle is not its child, waitid fails there, and the
 * copy only closes its end (and is told nothing).
 */
function reapMiddle(libc: Libc, middle: number, onFailed: ((exit: ExitInfo) => void) | undefined): void {
  // (a copy made before this is told inherits it, a nextTick included: only this process hears it)
  const parent = process.pid;
  const reaped = (exit: ExitInfo | null): void => {
    if (exit !== null && exit.status !== 0 && onFailed !== undefined && process.pid === parent) onFailed(exit);
  };
  let pidfd: number;
  try {
    pidfd = pidfdOpen(libc, middle);
  } catch {
    // no pidfd (ENFILE, EMFILE): wait as before; told after the caller has its answer
    const exit = waitPidBlocking(libc, middle);
    process.nextTick(() => reaped(exit));
    return;
  }
  const watch = watchFd(libc, pidfd, () => {
    unreaped.delete(watch);
    watch.close();
    let exit: ExitInfo | null = null;
    try {
      exit = waitPidfd(libc, pidfd);
    } catch {
      // in a copy: not its child (and not its request)
    }
    libc.close(pidfd);
    reaped(exit);
  });
  watch.unref(); // a spare's lifetime is its own business
  unreaped.add(watch);
  if (!closingOnExit) {
    closingOnExit = true;
    // an event on a watch still open while Node tears down would call into JS then: it aborts
    process.on('exit', () => {
      for (const w of unreaped) w.close();
      unreaped.clear();
    });
  }
}

/** Watches on middle processes not reaped yet. */
const unreaped = new Set<FdWatch>();
let closingOnExit = false;

/**
 * MADV_DOFORK on every private anonymous mapping (V8's heap is MADV_DONTFORK). Reading the maps and
 * the calls allocate, so V8 may map or unmap heap pages meanwhile: a range gone is skipped, and the
 * maps are read again until no range is new (a page V8 mapped after the last read would be missing
 * in the copy). MAX_ROUNDS bounds it; the last round finds nothing new in practice.
 */
function keepMappingsOnFork(libc: Libc): void {
  const advised = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const fresh = anonymousMappings().filter((range) => !advised.has(range));
    if (fresh.length === 0) return;
    for (const range of fresh) {
      advised.add(range);
      const [start, end] = range.split('-').map((hex) => BigInt(`0x${hex}`)) as [bigint, bigint];
      if (libc.madvise(start, end - start, MADV_DOFORK) < 0 && libc.errno() !== ENOMEM) check(libc, -1, 'madvise');
    }
  }
  throw new Error(`fork: V8's mappings kept changing (${MAX_ROUNDS} reads of /proc/self/maps)`);
}

/**
 * A young-generation collection now, when the process was started with `--expose-gc` (the forking
 * spare is): reading the maps allocates, and a scavenge that V8 had to run between the last read
 * and the fork could promote into an old-space page it maps then, MADV_DONTFORK, which the copy
 * would not have. After this one the young generation has room for all that reading allocates.
 * ~0.3 ms in the spare.
 */
function scavenge(): void {
  const gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc === 'function') (gc as (options: { type: 'minor' }) => void)({ type: 'minor' });
}

/** `start-end` (hex) of each private anonymous mapping, the brk heap included. */
function anonymousMappings(): string[] {
  const ranges: string[] = [];
  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+-[0-9a-f]+) ...p \S+ \S+ 0 *(\S*)$/.exec(line);
    if (m?.[1] && (m[2] === '' || m[2] === '[heap]')) ranges.push(m[1]);
  }
  return ranges;
}

/** In the copy: its own loop, pid, session, and an exit that skips Node's teardown. */
function becomeCopy(libc: Libc): void {
  if (libc.uv_loop_fork(libc.uv_default_loop()) !== 0) libc._exit(LOOP_FORK_FAILED);
  Object.defineProperty(process, 'pid', { value: libc.getpid(), writable: false, enumerable: true, configurable: true });
  libc.setsid(); // cannot fail: the copy leads no process group
  const exitNow = (code: unknown): never => {
    libc._exit(typeof code === 'number' ? code : 1);
    throw new Error('unreachable');
  };
  (process as unknown as { reallyExit: (code?: number) => never }).reallyExit = (code) => exitNow(code ?? process.exitCode ?? 0);
  process.on('uncaughtExceptionMonitor', (err) => {
    try {
      writeSync(2, `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    } catch {
      // no stderr
    }
  });
  // After the event loop empties, or an uncaught exception, Node emits 'exit' and then tears down:
  // the copy exits once every 'exit' listener ran, whenever it was added, even if one throws.
  const emit = process.emit.bind(process) as (event: string | symbol, ...args: unknown[]) => boolean;
  (process as unknown as { emit: typeof emit }).emit = (event, ...args) => {
    if (event !== 'exit') return emit(event, ...args);
    try {
      return emit(event, ...args);
    } finally {
      exitNow(args[0] ?? process.exitCode ?? 0);
    }
  };
}

