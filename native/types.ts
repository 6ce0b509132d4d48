/**
 * The typed surface of everything native: the system calls Node does not offer, as plain values in
 * and out. Errors are thrown as Node-style errors (`code` like 'ESRCH', `errno`, `syscall`).
 *
 * One interface, two implementations: the real one over libc through koffi (native/libc.ts and
 * friends, loaded lazily by native/index.ts) and an in-memory fake for unit tests (native/fake.ts).
 */

/** How a process ended, as waitid(2) reports it. */
export interface ExitInfo {
  pid: number;
  /** The exit code, or 128 + the signal number when a signal ended it (the shell's and containerd's convention). */
  status: number;
  /** The signal that ended it, when one did. */
  signal?: number;
}

/** What posix_spawn starts: `fds[i]` becomes the child's fd i (null: /dev/null). */
export interface SpawnRequest {
  path: string;
  /** argv, argv[0] included. */
  argv: readonly string[];
  /** The whole environment, as `NAME=value`. */
  env: readonly string[];
  cwd?: string;
  fds: ReadonlyArray<number | null>;
}

/** SO_PEERCRED of a unix socket connection. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** A received file descriptor and the bytes that came with it (runc sends the pty name). */
export interface ReceivedFd {
  fd: number;
  data: Buffer;
}

/** Readiness reported for a watched fd. */
export interface FdEvents {
  readable: boolean;
  writable: boolean;
  disconnect: boolean;
}

/** A watch on one fd in Node's own event loop (no thread per fd); close it before closing the fd. */
export interface FdWatch {
  close(): void;
  /** Changes what the watch waits for (e.g. writable only while a destination is full). */
  update(interest: { readable?: boolean; writable?: boolean }): void;
  /** Lets the process exit while this watch is the only thing left. */
  unref(): void;
}

/** The native interface. */
export interface Native {
  // --- process supervision -------------------------------------------------------------------
  /** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process. */
  setChildSubreaper(on: boolean): void;
  /** prctl(PR_GET_CHILD_SUBREAPER). */
  isChildSubreaper(): boolean;
  /** prctl(PR_SET_PDEATHSIG) for the calling thread's process. */
  setParentDeathSignal(signal: number): void;
  /**
   * waitid(P_PID, pid, WEXITED | WNOHANG [| WNOWAIT]) on one child: its exit, or null while it runs.
   * With `peek` the child is left waitable (WNOWAIT). Throws ECHILD if `pid` is not our child.
   */
  waitPid(pid: number, options?: { peek?: boolean }): ExitInfo | null;
  /**
   * fork(2) of this Node process into a copy that is not our child (a double fork; the middle
   * process is reaped from the event loop) and leads its own session: true in the copy, false
   * here. The copy has its own event loop and process.pid, and ends with _exit(2) (native/fork.ts
   * says why). Only in a process run with `--single-threaded`; throws when the fork failed.
   * `onMiddleFailed` is called here, later, when the middle process did not exit 0: its own fork
   * failed, or it died (a page V8 mapped after the maps were read is missing in it), so most
   * likely no copy was made.
   */
  forkDetached(onMiddleFailed?: (exit: ExitInfo) => void): boolean;
  /**
   * malloc_trim(0): glibc gives the free memory of its heaps back to the kernel (it keeps it
   * otherwise: a daemon's malloc heap stays at its largest). Never fails.
   */
  trimMalloc(): void;
  /**
   * Unmaps the resident pages of every private, read-only file mapping that has no page of this
   * process's own (native/pages.ts): they stay in the page cache, and an access maps them again.
   * Returns the KiB that were resident in them. Never fails: a mapping madvise refuses stays mapped.
   */
  releaseFilePages(): number;
  /** waitid(P_PIDFD, fd, WEXITED | WNOHANG): as waitPid, through a pidfd (no pid-reuse race). */
  waitPidfd(pidfd: number): ExitInfo | null;
  /** pidfd_open(2): a descriptor that refers to this process for as long as it is held. */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2). */
  pidfdSendSignal(pidfd: number, signal: number): void;
  /**
   * posix_spawn(3) of `request.path` (no PATH search), without forking this process; returns the
   * pid. The child's signals are all at their defaults with none blocked. Throws the errno of a
   * failed start (ENOENT, EACCES, ENOEXEC, …). Reap the child yourself (waitPid / waitPidfd).
   */
  spawn(request: SpawnRequest): number;

  // --- descriptors -----------------------------------------------------------------------------
  /** pipe2(2) with O_CLOEXEC (and O_NONBLOCK when asked): [read end, write end]. */
  pipe(options?: { nonBlocking?: boolean }): [number, number];
  /** mkfifo(3). */
  mkfifo(path: string, mode: number): void;
  /**
   * flock(2) LOCK_EX | LOCK_NB: true when this open file description now holds the lock, false
   * while another holds it (EWOULDBLOCK). The kernel lets go when the last fd of it is closed, or
   * its process dies.
   */
  tryLockExclusive(fd: number): boolean;
  /** fcntl(F_SETPIPE_SZ); returns the size the kernel granted. */
  setPipeSize(fd: number, size: number): number;
  /** fcntl(F_GETPIPE_SZ). */
  getPipeSize(fd: number): number;
  /** ioctl(FIONREAD): bytes in a pipe or FIFO not read yet; either end, any reader's view. */
  unreadBytes(fd: number): number;
  /** fcntl(F_SETFL) O_NONBLOCK on or off. */
  setNonBlocking(fd: number, on: boolean): void;
  /** fcntl(F_GETFL) & O_NONBLOCK. */
  isNonBlocking(fd: number): boolean;
  /** dup2(2); the new fd is close-on-exec only with `closeOnExec` (dup2 clears the flag). */
  dup2(oldFd: number, newFd: number, options?: { closeOnExec?: boolean }): void;
  /** eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK. */
  eventfd(initial?: number): number;
  /** Reads an eventfd's 8-byte counter; null when it is zero (EAGAIN). */
  readEventfd(fd: number): bigint | null;
  /**
   * splice(2) with SPLICE_F_MOVE | SPLICE_F_NONBLOCK: moves up to `length` bytes from `fromFd` to `toFd`
   * (one of them a pipe) without copying them through user space. Returns the bytes moved, 0 at
   * end of input, or null when either side would block (EAGAIN).
   */
  splice(fromFd: number, toFd: number, length: number): number | null;

  // --- sockets and terminals ---------------------------------------------------------------------
  /** getsockopt(SO_PEERCRED) of a connected unix socket. */
  getPeerCred(fd: number): PeerCred;
  /**
   * recvmsg(2) expecting exactly one SCM_RIGHTS message carrying one fd (received close-on-exec).
   * Returns null when no message is waiting yet (EAGAIN on a non-blocking socket).
   */
  recvFd(socketFd: number): ReceivedFd | null;
  /** sendmsg(2) of `data` with one SCM_RIGHTS fd (what runc does on --console-socket). */
  sendFd(socketFd: number, fd: number, data: Buffer): void;
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC). */
  socketpair(): [number, number];
  /** A non-blocking, close-on-exec unix stream socket listening on `path` (backlog 1). */
  listenUnix(path: string): number;
  /** accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK; null when no connection is waiting. */
  accept(listenFd: number): number | null;
  /** ioctl(TIOCSWINSZ) on a terminal (pty master); values are truncated to 16 bits as the kernel's are. */
  setWindowSize(fd: number, size: { rows: number; cols: number }): void;
  /** ioctl(TIOCGWINSZ). */
  getWindowSize(fd: number): { rows: number; cols: number };

  // --- mounts ----------------------------------------------------------------------------------
  /** mount(2). */
  mount(source: string, target: string, fstype: string, flags: bigint, data: string | null): void;
  /** umount2(2). */
  umount2(target: string, flags: number): void;

  // --- readiness -------------------------------------------------------------------------------
  /**
   * Calls `onEvent` whenever `fd` is ready — readable by default (eventfd counter, pidfd exit,
   * socket data), or as `interest` says — from Node's own epoll through a libuv poll handle: no
   * thread per fd, no pool thread at all. Level-triggered: stop or close the watch once handled.
   */
  watchFd(fd: number, onEvent: (events: FdEvents) => void, interest?: { readable?: boolean; writable?: boolean }): FdWatch;

  /** Closes a raw descriptor. */
  close(fd: number): void;
}

/** mount(2) flags (linux/mount.h) the shim uses. */
export const MountFlags = {
  RDONLY: 0x1n,
  NOSUID: 0x2n,
  NODEV: 0x4n,
  NOEXEC: 0x8n,
  SYNCHRONOUS: 0x10n,
  REMOUNT: 0x20n,
  MANDLOCK: 0x40n,
  DIRSYNC: 0x80n,
  NOSYMFOLLOW: 0x100n,
  NOATIME: 0x400n,
  NODIRATIME: 0x800n,
  BIND: 0x1000n,
  MOVE: 0x2000n,
  REC: 0x4000n,
  SILENT: 0x8000n,
  UNBINDABLE: 0x20000n,
  PRIVATE: 0x40000n,
  SLAVE: 0x80000n,
  SHARED: 0x100000n,
  RELATIME: 0x200000n,
  STRICTATIME: 0x1000000n,
  LAZYTIME: 0x2000000n,
} as const;

/** umount2(2) flags. */
export const UmountFlags = { FORCE: 1, DETACH: 2, EXPIRE: 4, NOFOLLOW: 8 } as const;
