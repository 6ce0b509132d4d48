/**
 * A lock the kernel lets go of when its holder dies: flock(2) on a file. For locks held for a
 * moment by processes that may be killed at any time (a spare opening its door, door.ts): one
 * killed while it held the lock holds up nobody. (A lock file alone — created, then removed — is
 * left behind by a holder killed in between, and must be judged stale by its age or by a pid in it,
 * which a second process may be taking over at the same moment.)
 *
 * The holder removes the file as it lets go, still holding the lock. A process that opened the file
 * before that gets the lock on a file no longer at the path: it checks that the file it locked is
 * the one at the path, and tries again if not — so no file is left but a killed holder's, which
 * the next holder takes and removes.
 *
 * A fork shares the holder's open file description, and with it the lock: hold it only where no
 * fork can happen meanwhile (Door.open is synchronous).
 */
import { closeSync, constants, openSync } from 'node:fs';
import { O_CLOEXEC, isFileAt } from './open-file';
import { removeQuiet } from './remove';
import type { Native } from '../../native';

const { O_RDWR, O_CREAT } = constants;
/** One millisecond's sleep for a synchronous wait: the holder runs a few syscalls, then lets go. */
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * Locks `path` (created 0600 if missing), waiting up to `waitMs` while another process holds it.
 * Returns what lets go of it (and removes the file); undefined when the wait ran out, or the file
 * cannot be opened.
 */
export function takeFileLock(native: Pick<Native, 'tryLockExclusive'>, path: string, waitMs: number): (() => void) | undefined {
  const until = performance.now() + waitMs;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    } catch {
      return undefined;
    }
    let locked: boolean;
    try {
      locked = native.tryLockExclusive(fd);
      while (!locked && performance.now() < until) {
        Atomics.wait(nap, 0, 0, 1);
        locked = native.tryLockExclusive(fd);
      }
      // removed (and made again) after we opened it: our lock is on a file nobody else will open
      if (locked && !isFileAt(fd, path)) locked = false;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (locked) {
      return () => {
        if (isFileAt(fd, path)) removeQuiet(path);
        closeSync(fd);
      };
    }
    closeSync(fd);
    if (performance.now() >= until) return undefined;
  }
}
