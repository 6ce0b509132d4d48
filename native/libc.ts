/**
 * libc loaded once through koffi, with the raw prototypes the wrappers call. Internal to native/:
 * nothing outside this folder sees koffi. Loading also checks our struct offsets against the C ABI
 * layouts koffi computes from C-shaped declarations (native/structs.ts).
 */
import { type Koffi, loadKoffi } from './koffi';
import { CMSGHDR, IOVEC, MSGHDR, SIGINFO, SOCKADDR_UN, UCRED, WINSIZE, checkLayout } from './structs';

const koffi = loadKoffi();

/** A declared C function: returns a number (int/long results) or bigint. */
type CFunction = (...args: unknown[]) => number;

function declareLayouts(): void {
  const sigchld = koffi.struct('tsrunc_sigchld', { si_pid: 'int', si_uid: 'uint', si_status: 'int', si_utime: 'long', si_stime: 'long' });
  const sifields = koffi.union('tsrunc_sifields', { _pad: koffi.array('int', 28), _sigchld: sigchld, _addr: 'void *' });
  const siginfo = koffi.struct('tsrunc_siginfo', { si_signo: 'int', si_errno: 'int', si_code: 'int', _sifields: sifields });
  const inSigchld = new Set(['si_pid', 'si_uid', 'si_status']);
  checkLayout('siginfo_t', SIGINFO, koffi.sizeof(siginfo), (f) =>
    inSigchld.has(f) ? koffi.offsetof(siginfo, '_sifields') + koffi.offsetof(sigchld, f) : koffi.offsetof(siginfo, f),
  );

  const ucred = koffi.struct('tsrunc_ucred', { pid: 'int', uid: 'uint', gid: 'uint' });
  checkLayout('ucred', UCRED, koffi.sizeof(ucred), (f) => koffi.offsetof(ucred, f));

  const winsize = koffi.struct('tsrunc_winsize', { ws_row: 'ushort', ws_col: 'ushort', ws_xpixel: 'ushort', ws_ypixel: 'ushort' });
  checkLayout('winsize', WINSIZE, koffi.sizeof(winsize), (f) => koffi.offsetof(winsize, f));

  const iovec = koffi.struct('tsrunc_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  checkLayout('iovec', IOVEC, koffi.sizeof(iovec), (f) => koffi.offsetof(iovec, f));

  const msghdr = koffi.struct('tsrunc_msghdr', {
    msg_name: 'void *',
    msg_namelen: 'uint',
    msg_iov: 'void *',
    msg_iovlen: 'size_t',
    msg_control: 'void *',
    msg_controllen: 'size_t',
    msg_flags: 'int',
  });
  checkLayout('msghdr', MSGHDR, koffi.sizeof(msghdr), (f) => koffi.offsetof(msghdr, f));

  const cmsghdr = koffi.struct('tsrunc_cmsghdr', { cmsg_len: 'size_t', cmsg_level: 'int', cmsg_type: 'int' });
  checkLayout('cmsghdr', CMSGHDR, koffi.sizeof(cmsghdr), (f) => koffi.offsetof(cmsghdr, f));

  const sockaddrUn = koffi.struct('tsrunc_sockaddr_un', { sun_family: 'ushort', sun_path: koffi.array('char', 108) });
  checkLayout('sockaddr_un', SOCKADDR_UN, koffi.sizeof(sockaddrUn), (f) => koffi.offsetof(sockaddrUn, f));
}

/**
 * System call numbers, for calls glibc wraps only from a recent version: these two from 2.36, where
 * Ubuntu 22.04 and RHEL 9 have 2.35 and 2.34. Added after the tables were unified (Linux 5.1), they
 * are the same on x86_64, arm64, arm, ppc64le, s390x and riscv64 (not on alpha, mips or ia64).
 */
const SYS_PIDFD_SEND_SIGNAL = 424;
const SYS_PIDFD_OPEN = 434;

/**
 * The oldest glibc whose symbols every required declaration below may need: RHEL 8's. A symbol
 * koffi cannot find fails the whole load, and with it the daemon, so a newer one is either called
 * through syscall(2) or optional (test/integration/libc-symbols.test.ts reads the versions).
 */
export const OLDEST_GLIBC = '2.28';

/** Every libc symbol declared, and whether the load goes on without it. */
const declared: Array<{ name: string; optional: boolean }> = [];

/** The libc symbols loadLibc declares (after it ran). */
export function declaredSymbols(): ReadonlyArray<{ name: string; optional: boolean }> {
  return declared;
}

/** The function's name in a C prototype: the word before the first parenthesis. */
function nameOf(decl: string): string {
  return /(\w+)\s*\(/.exec(decl)?.[1] ?? decl;
}

/** The libc functions we call, by name. */
export interface Libc {
  prctl: CFunction;
  waitid: CFunction;
  pidfd_open: CFunction;
  pidfd_send_signal: CFunction;
  pipe2: CFunction;
  mkfifo: CFunction;
  flock: CFunction;
  fcntl: CFunction;
  dup2: CFunction;
  eventfd: CFunction;
  read: CFunction;
  splice: CFunction;
  getsockopt: CFunction;
  recvmsg: CFunction;
  sendmsg: CFunction;
  socketpair: CFunction;
  socket: CFunction;
  bind: CFunction;
  listen: CFunction;
  accept4: CFunction;
  ioctl: CFunction;
  mount: CFunction;
  umount2: CFunction;
  close: CFunction;
  posix_spawn: CFunction;
  posix_spawn_file_actions_init: CFunction;
  posix_spawn_file_actions_destroy: CFunction;
  posix_spawn_file_actions_adddup2: CFunction;
  posix_spawn_file_actions_addopen: CFunction;
  /**
   * glibc 2.29: missing, a spawn with a working directory is ENOSYS, and the monitor falls back to
   * child_process for good (runc always runs in the bundle: every spawn then forks Node).
   */
  posix_spawn_file_actions_addchdir_np: CFunction | undefined;
  posix_spawnattr_init: CFunction;
  posix_spawnattr_destroy: CFunction;
  posix_spawnattr_setflags: CFunction;
  posix_spawnattr_setsigdefault: CFunction;
  posix_spawnattr_setsigmask: CFunction;
  fork: CFunction;
  _exit: CFunction;
  setsid: CFunction;
  getpid: CFunction;
  madvise: CFunction;
  malloc_trim: CFunction;
  /** libuv, from the node binary itself (it exports uv_*): the loop a fork copy must reinitialise. */
  uv_default_loop: () => unknown;
  uv_loop_fork: CFunction;
  /** errno of the last call made through koffi on this thread. */
  errno(): number;
  /** The address of a Buffer's memory, for pointer fields we fill in ourselves. */
  address(buffer: Buffer): bigint;
  /** koffi's libuv poll handle on one fd. */
  poll: Koffi['node']['poll'];
}

let libc: Libc | undefined;

/** Loads libc and declares everything (once). */
export function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') throw new Error(`native: Linux only (this is ${process.platform})`);
  declareLayouts();
  const lib = koffi.load('libc.so.6');
  // dlopen(NULL): the node executable, whose exported libuv symbols addons link against
  const node = koffi.load(null);
  const fn = (decl: string): CFunction => {
    declared.push({ name: nameOf(decl), optional: false });
    return lib.func(decl) as CFunction;
  };
  const optional = (decl: string): CFunction | undefined => {
    declared.push({ name: nameOf(decl), optional: true });
    try {
      return lib.func(decl) as CFunction;
    } catch {
      return undefined; // koffi: "Cannot find function" in this libc
    }
  };
  const syscall = fn('long syscall(long number, ...)');
  libc = {
    prctl: fn('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    waitid: fn('int waitid(int idtype, uint id, _Inout_ void *infop, int options)'),
    pidfd_open: (pid, flags) => syscall(SYS_PIDFD_OPEN, 'int', pid, 'uint', flags),
    pidfd_send_signal: (pidfd, sig, info, flags) => syscall(SYS_PIDFD_SEND_SIGNAL, 'int', pidfd, 'int', sig, 'void *', info, 'uint', flags),
    pipe2: fn('int pipe2(_Out_ void *fds, int flags)'),
    mkfifo: fn('int mkfifo(const char *path, uint mode)'),
    flock: fn('int flock(int fd, int operation)'),
    fcntl: fn('int fcntl(int fd, int cmd, ...)'),
    dup2: fn('int dup2(int oldfd, int newfd)'),
    eventfd: fn('int eventfd(uint initval, int flags)'),
    read: fn('long read(int fd, _Out_ void *buf, size_t count)'),
    splice: fn('long splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, uint flags)'),
    getsockopt: fn('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ void *len)'),
    recvmsg: fn('long recvmsg(int fd, _Inout_ void *msg, int flags)'),
    sendmsg: fn('long sendmsg(int fd, const void *msg, int flags)'),
    socketpair: fn('int socketpair(int domain, int type, int protocol, _Out_ void *fds)'),
    socket: fn('int socket(int domain, int type, int protocol)'),
    bind: fn('int bind(int fd, const void *addr, uint len)'),
    listen: fn('int listen(int fd, int backlog)'),
    accept4: fn('int accept4(int fd, void *addr, void *len, int flags)'),
    ioctl: fn('int ioctl(int fd, unsigned long request, ...)'),
    mount: fn('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: fn('int umount2(const char *target, int flags)'),
    close: fn('int close(int fd)'),
    posix_spawn: fn('int posix_spawn(_Out_ void *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)'),
    posix_spawn_file_actions_init: fn('int posix_spawn_file_actions_init(void *actions)'),
    posix_spawn_file_actions_destroy: fn('int posix_spawn_file_actions_destroy(void *actions)'),
    posix_spawn_file_actions_adddup2: fn('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
    posix_spawn_file_actions_addopen: fn('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint mode)'),
    posix_spawn_file_actions_addchdir_np: optional('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)'),
    posix_spawnattr_init: fn('int posix_spawnattr_init(void *attr)'),
    posix_spawnattr_destroy: fn('int posix_spawnattr_destroy(void *attr)'),
    posix_spawnattr_setflags: fn('int posix_spawnattr_setflags(void *attr, short flags)'),
    posix_spawnattr_setsigdefault: fn('int posix_spawnattr_setsigdefault(void *attr, void *sigset)'),
    posix_spawnattr_setsigmask: fn('int posix_spawnattr_setsigmask(void *attr, void *sigset)'),
    fork: fn('int fork(void)'),
    _exit: fn('void _exit(int status)'),
    setsid: fn('int setsid(void)'),
    getpid: fn('int getpid(void)'),
    madvise: fn('int madvise(uintptr_t addr, size_t length, int advice)'),
    malloc_trim: fn('int malloc_trim(size_t pad)'),
    uv_default_loop: node.func('void *uv_default_loop(void)') as () => unknown,
    uv_loop_fork: node.func('int uv_loop_fork(void *loop)') as CFunction,
    errno: () => koffi.errno(),
    address: (buffer) => koffi.address(buffer),
    poll: koffi.node.poll.bind(koffi.node),
  };
  return libc;
}
