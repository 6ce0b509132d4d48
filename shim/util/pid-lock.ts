/**
 * A lock file that names its holder: its content is the holder's pid, so a lock left by a process
 * killed while it held it is seen as free at once — not after a timeout, during which every
 * process that wants it would give up. For locks held for a moment (a spare opening its door),
 * by processes that may be killed at any time.
 */
import { linkSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { removeQuiet } from './remove';

/** One millisecond's sleep for a synchronous wait: the holder runs a few syscalls, then lets go. */
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * Takes the lock `path` for this process. A lock whose holder is gone (or a zombie) is taken over;
 * one a live process holds is waited for up to `waitMs`, then false.
 */
export function takePidLock(path: string, waitMs: number): boolean {
  const own = `${path}.${process.pid}`;
  writeFileSync(own, `${process.pid}\n`, { mode: 0o600 });
  try {
    const until = Date.now() + waitMs;
    for (;;) {
      // link: created with its content (no moment where it is empty), and refused if it exists
      if (tryLink(own, path)) return true;
      const holder = holderOf(path);
      if (holder !== undefined && !running(holder)) takeOver(path, holder);
      else if (Date.now() >= until) return false;
      else Atomics.wait(nap, 0, 0, 1);
    }
  } finally {
    removeQuiet(own);
  }
}

/** Lets go of a lock `takePidLock` gave this process; one another took over is left alone. */
export function releasePidLock(path: string): void {
  if (holderOf(path) === process.pid) removeQuiet(path);
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The pid a lock names; undefined when it is gone meanwhile or names none (a foreign file). */
function holderOf(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text, 10);
  return pid > 0 ? pid : 0;
}

/**
 * Removes the lock of `deadHolder`. Moved aside first and its content read there: if another
 * process took it over between our look and the move, the lock we moved is that one's, and it is
 * put back.
 */
function takeOver(path: string, deadHolder: number): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone meanwhile: try again
  }
  if (holderOf(aside) !== deadHolder) tryLink(aside, path);
  removeQuiet(aside);
}

/** The process exists and is not a zombie (a killed holder may wait a while for init to reap it). */
function running(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== 'Z' && state !== 'X';
}
