/**
 * An in-memory `Native` for unit tests: no koffi, no root, any OS. Children, pidfds, eventfds and
 * watches are simulated; the test drives them (`addChild`, `exitChild`, `signalEventfd`, `fire`)
 * and reads what the code under test did (`calls`, `windowSizes`, `mounts`).
 */
import { systemError } from './errno';
import { type ExitInfo, type FdEvents, type FdWatch, type Native, type PeerCred, type ReceivedFd, type SpawnRequest } from './types';

const ECHILD = 10;
const ESRCH = 3;
const EBADF = 9;
const ENOSYS = 38;

/** A fake of the native layer. */
export class FakeNative implements Native {
  /** Every call, in order: [method name, ...arguments]. */
  readonly calls: unknown[][] = [];
  readonly windowSizes = new Map<number, { rows: number; cols: number }>();
  readonly mounts: { source: string; target: string; fstype: string; flags: bigint; data: string | null }[] = [];
  readonly signals: { pid: number; signal: number }[] = [];
  /** What getPeerCred answers. */
  peerCred: PeerCred = { pid: 1, uid: 0, gid: 0 };
  /** What recvFd answers next (null: nothing waiting). */
  nextReceivedFd: ReceivedFd | null = null;

  private subreaper = false;
  private nextFd = 1000;
  private readonly children = new Map<number, ExitInfo | null>();
  private readonly pidfds = new Map<number, number>();
  private readonly eventfds = new Map<number, bigint>();
  private readonly watches = new Map<number, Set<(events: FdEvents) => void>>();
  private readonly open = new Set<number>();

  /** Makes `pid` a running child of this (fake) process. */
  addChild(pid: number): void {
    this.children.set(pid, null);
  }

  /** Ends child `pid` (status = code, or 128+signal); pidfd watches on it fire. */
  exitChild(pid: number, status: number, signal?: number): void {
    this.children.set(pid, signal === undefined ? { pid, status } : { pid, status, signal });
    for (const [fd, p] of this.pidfds) if (p === pid) this.fire(fd);
  }

  /** Adds to an eventfd's counter and fires its watches. */
  signalEventfd(fd: number, value = 1n): void {
    this.eventfds.set(fd, (this.eventfds.get(fd) ?? 0n) + value);
    this.fire(fd);
  }

  /** Calls the watchers of `fd` as if it became readable. */
  fire(fd: number, events: FdEvents = { readable: true, writable: false, disconnect: false }): void {
    for (const cb of [...(this.watches.get(fd) ?? [])]) cb(events);
  }

  /** Descriptors handed out and not closed yet. */
  openFds(): number[] {
    return [...this.open];
  }

  private record(name: string, ...args: unknown[]): void {
    this.calls.push([name, ...args]);
  }

  private allocate(): number {
    const fd = this.nextFd++;
    this.open.add(fd);
    return fd;
  }

  setChildSubreaper(on: boolean): void {
    this.record('setChildSubreaper', on);
    this.subreaper = on;
  }
  isChildSubreaper(): boolean {
    return this.subreaper;
  }
  setParentDeathSignal(signal: number): void {
    this.record('setParentDeathSignal', signal);
  }
  waitPid(pid: number, options?: { peek?: boolean }): ExitInfo | null {
    this.record('waitPid', pid, options);
    if (!this.children.has(pid)) throw systemError(ECHILD, 'waitid');
    const exit = this.children.get(pid) ?? null;
    if (exit && !options?.peek) this.children.delete(pid);
    return exit;
  }
  waitPidfd(pidfd: number): ExitInfo | null {
    const pid = this.pidfds.get(pidfd);
    if (pid === undefined) throw systemError(EBADF, 'waitid');
    return this.waitPid(pid);
  }
  /** A fake cannot copy a process: forkDetached always fails, as when fork(2) does. */
  forkDetached(_onMiddleFailed?: (exit: ExitInfo) => void): boolean {
    this.record('forkDetached');
    throw systemError(ENOSYS, 'fork');
  }
  trimMalloc(): void {
    this.record('trimMalloc');
  }
  releaseFilePages(): number {
    this.record('releaseFilePages');
    return 0;
  }
  pidfdOpen(pid: number): number {
    this.record('pidfdOpen', pid);
    if (!this.children.has(pid)) throw systemError(ESRCH, 'pidfd_open');
    const fd = this.allocate();
    this.pidfds.set(fd, pid);
    return fd;
  }
  pidfdSendSignal(pidfd: number, signal: number): void {
    const pid = this.pidfds.get(pidfd);
    if (pid === undefined) throw systemError(EBADF, 'pidfd_send_signal');
    if (this.children.get(pid)) throw systemError(ESRCH, 'pidfd_send_signal');
    this.signals.push({ pid, signal });
  }
  spawn(request: SpawnRequest): number {
    this.record('spawn', request);
    throw systemError(ENOSYS, 'posix_spawn', request.path); // no processes here: the monitor falls back
  }
  pipe(): [number, number] {
    return [this.allocate(), this.allocate()];
  }
  mkfifo(path: string, mode: number): void {
    this.record('mkfifo', path, mode);
  }
  /** Every lock is free: no other process here. */
  tryLockExclusive(fd: number): boolean {
    this.record('tryLockExclusive', fd);
    return true;
  }
  setPipeSize(_fd: number, size: number): number {
    return size;
  }
  getPipeSize(): number {
    return 65536;
  }
  /** No fake FIFO holds unread bytes. */
  unreadBytes(): number {
    return 0;
  }
  setNonBlocking(fd: number, on: boolean): void {
    this.record('setNonBlocking', fd, on);
  }
  isNonBlocking(): boolean {
    return true;
  }
  dup2(oldFd: number, newFd: number, options?: { closeOnExec?: boolean }): void {
    this.record('dup2', oldFd, newFd, options?.closeOnExec ?? false);
  }
  eventfd(initial = 0): number {
    const fd = this.allocate();
    this.eventfds.set(fd, BigInt(initial));
    return fd;
  }
  readEventfd(fd: number): bigint | null {
    const value = this.eventfds.get(fd) ?? 0n;
    this.eventfds.set(fd, 0n);
    return value === 0n ? null : value;
  }
  splice(): number | null {
    return null;
  }
  getPeerCred(): PeerCred {
    return this.peerCred;
  }
  recvFd(): ReceivedFd | null {
    const got = this.nextReceivedFd;
    this.nextReceivedFd = null;
    return got;
  }
  sendFd(socketFd: number, fd: number, data: Buffer): void {
    this.record('sendFd', socketFd, fd, data);
  }
  socketpair(): [number, number] {
    return [this.allocate(), this.allocate()];
  }
  listenUnix(path: string): number {
    this.record('listenUnix', path);
    return this.allocate();
  }
  accept(): number | null {
    return null;
  }
  setWindowSize(fd: number, size: { rows: number; cols: number }): void {
    this.windowSizes.set(fd, { rows: size.rows & 0xffff, cols: size.cols & 0xffff });
  }
  getWindowSize(fd: number): { rows: number; cols: number } {
    return this.windowSizes.get(fd) ?? { rows: 0, cols: 0 };
  }
  mount(source: string, target: string, fstype: string, flags: bigint, data: string | null): void {
    this.mounts.push({ source, target, fstype, flags, data });
  }
  umount2(target: string, flags: number): void {
    this.record('umount2', target, flags);
  }
  watchFd(fd: number, onEvent: (events: FdEvents) => void): FdWatch {
    const set = this.watches.get(fd) ?? new Set();
    set.add(onEvent);
    this.watches.set(fd, set);
    return {
      close: () => {
        set.delete(onEvent);
      },
      update: () => undefined,
      unref: () => undefined,
    };
  }
  close(fd: number): void {
    this.record('close', fd);
    if (!this.open.delete(fd)) throw systemError(EBADF, 'close');
    this.pidfds.delete(fd);
    this.eventfds.delete(fd);
  }
}
