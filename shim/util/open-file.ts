/**
 * What Node's fs leaves out about open files: the close-on-exec flag, and whether a file we hold
 * open is still the one a path names (a path may be unlinked and made again by another process).
 */
import { fstatSync, statSync } from 'node:fs';

/** Linux O_CLOEXEC, which Node's fs.constants does not export: no program a child runs inherits the fd. */
export const O_CLOEXEC = 0o2000000;

/** True when `path` names the file open on `fd`; false when it names another file, or none. */
export function isFileAt(fd: number, path: string): boolean {
  try {
    const named = statSync(path);
    const held = fstatSync(fd);
    return named.ino === held.ino && named.dev === held.dev;
  } catch {
    return false;
  }
}
