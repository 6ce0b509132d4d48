/** Descriptors Node cannot make or tune itself: pipe2, mkfifo, flock, fcntl, dup2, eventfd, splice, FIONREAD. */
import { check, checkAgain } from './check';
import { type Libc } from './libc';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
const EFD_NONBLOCK = O_NONBLOCK;
const EFD_CLOEXEC = O_CLOEXEC;
const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;
const FIONREAD = 0x541b;
const LOCK_EX = 2;
const LOCK_NB = 4;

export function pipe(libc: Libc, options?: { nonBlocking?: boolean }): [number, number] {
  const fds = new Int32Array(2);
  check(libc, libc.pipe2(fds, O_CLOEXEC | (options?.nonBlocking ? O_NONBLOCK : 0)), 'pipe2');
  return [fds[0] ?? -1, fds[1] ?? -1];
}

export function mkfifo(libc: Libc, path: string, mode: number): void {
  check(libc, libc.mkfifo(path, mode), 'mkfifo', path);
}

export function tryLockExclusive(libc: Libc, fd: number): boolean {
  return checkAgain(libc, libc.flock(fd, LOCK_EX | LOCK_NB), 'flock') !== null;
}

export function setPipeSize(libc: Libc, fd: number, size: number): number {
  return check(libc, libc.fcntl(fd, F_SETPIPE_SZ, 'int', size), 'fcntl');
}

export function getPipeSize(libc: Libc, fd: number): number {
  return check(libc, libc.fcntl(fd, F_GETPIPE_SZ, 'int', 0), 'fcntl');
}

export function unreadBytes(libc: Libc, fd: number): number {
  const count = Buffer.alloc(4);
  check(libc, libc.ioctl(fd, FIONREAD, 'void *', count), 'ioctl');
  return count.readInt32LE(0);
}

export function setNonBlocking(libc: Libc, fd: number, on: boolean): void {
  const flags = check(libc, libc.fcntl(fd, F_GETFL, 'int', 0), 'fcntl');
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) check(libc, libc.fcntl(fd, F_SETFL, 'int', next), 'fcntl');
}

export function isNonBlocking(libc: Libc, fd: number): boolean {
  return (check(libc, libc.fcntl(fd, F_GETFL, 'int', 0), 'fcntl') & O_NONBLOCK) !== 0;
}

export function dup2(libc: Libc, oldFd: number, newFd: number, closeOnExec = false): void {
  check(libc, libc.dup2(oldFd, newFd), 'dup2');
  if (closeOnExec) check(libc, libc.fcntl(newFd, F_SETFD, 'int', FD_CLOEXEC), 'fcntl');
}

export function eventfd(libc: Libc, initial = 0): number {
  return check(libc, libc.eventfd(initial, EFD_CLOEXEC | EFD_NONBLOCK), 'eventfd');
}

export function readEventfd(libc: Libc, fd: number): bigint | null {
  const buf = Buffer.alloc(8);
  const n = checkAgain(libc, libc.read(fd, buf, 8), 'read');
  return n === null ? null : buf.readBigUInt64LE(0);
}

export function splice(libc: Libc, fromFd: number, toFd: number, length: number): number | null {
  return checkAgain(libc, libc.splice(fromFd, null, toFd, null, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK), 'splice');
}

export function close(libc: Libc, fd: number): void {
  check(libc, libc.close(fd), 'close');
}
