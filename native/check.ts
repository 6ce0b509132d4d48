/** Turns a -1 result of a libc call into a thrown Node-style error. Internal to native/. */
import { systemError } from './errno';
import { type Libc } from './libc';

/** Returns `result`, or throws the errno of the failed `syscall` when it is negative. */
export function check(libc: Libc, result: number, syscall: string, path?: string): number {
  if (result < 0) throw systemError(libc.errno(), syscall, path);
  return result;
}

/** Like `check`, but returns null when the call failed with EAGAIN (nothing to do yet). */
export function checkAgain(libc: Libc, result: number, syscall: string): number | null {
  if (result >= 0) return result;
  const errno = libc.errno();
  if (errno === EAGAIN) return null;
  throw systemError(errno, syscall);
}

export const EAGAIN = 11;

/**
 * Keeps Buffers reachable until this point: their addresses were written as raw integers into
 * another Buffer (msghdr, iovec), which the garbage collector does not see as references.
 */
export function keepAlive(...buffers: Buffer[]): void {
  for (const b of buffers) if (b.length < 0) throw new Error('unreachable');
}
