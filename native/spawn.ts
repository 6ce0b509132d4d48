/**
 * posix_spawn(3): starts a program without forking the Node process.
 *
 * libuv starts every child_process child with fork(2), which copies the page tables of the whole
 * Node process before the child can exec: ~1 ms per call in a daemon of ~50 MiB, on every runc
 * invocation. glibc's posix_spawn uses clone(CLONE_VM | CLONE_VFORK) — no copy — and reports a
 * failed exec (ENOENT, EACCES) as its result.
 *
 * The child gets exactly what libuv would give it: `fds[i]` becomes its fd i (null: /dev/null),
 * every signal at its default disposition (Node ignores SIGPIPE, and an ignored signal survives
 * exec into runc and on into the container) and an empty signal mask. Everything else we hold is
 * close-on-exec.
 *
 * "Every signal" is all 64 bits, not sigfillset's set: sigfillset leaves out glibc's internal
 * signals 32 and 33, and glibc's posix_spawn then sets those to SIG_IGN in the child (it must not
 * run a handler while it shares our memory), where they stay ignored across exec. libuv's children
 * have them at SIG_DFL; so do ours (test/integration/spawn-direct.test.ts).
 */
import { check } from './check';
import { type Libc } from './libc';
import { systemError } from './errno';
import { type SpawnRequest } from './types';

const ENOSYS = 38;
const F_DUPFD_CLOEXEC = 1030;
const O_RDWR = 2;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
/** Opaque glibc objects, sized generously: x86_64 posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128. */
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 512;
const SIGSET_SIZE = 128;
/** Signals 1–64: bit n−1 of the first 8 bytes of a sigset_t. */
const ALL_SIGNALS_BYTES = 8;

/** Starts `request.path`; returns the child's pid. Throws the errno of a failed start (ENOENT, EACCES, …). */
export function spawn(libc: Libc, request: SpawnRequest): number {
  const actions = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const all = Buffer.alloc(SIGSET_SIZE).fill(0xff, 0, ALL_SIGNALS_BYTES);
  const none = Buffer.alloc(SIGSET_SIZE);
  const moved: number[] = [];
  spawnCheck(libc.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init');
  try {
    spawnCheck(libc.posix_spawnattr_init(attr), 'posix_spawnattr_init');
    try {
      spawnCheck(libc.posix_spawnattr_setsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
      spawnCheck(libc.posix_spawnattr_setsigmask(attr, none), 'posix_spawnattr_setsigmask');
      spawnCheck(libc.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), 'posix_spawnattr_setflags');
      const count = request.fds.length;
      for (const [target, source] of request.fds.entries()) {
        if (source === null) {
          spawnCheck(libc.posix_spawn_file_actions_addopen(actions, target, '/dev/null', O_RDWR, 0), 'posix_spawn_file_actions_addopen');
          continue;
        }
        // A source below `count` could be overwritten by an earlier dup2, and dup2(fd, fd) would
        // leave it close-on-exec: give every such source a number above all targets first.
        let from = source;
        if (source < count) {
          from = check(libc, libc.fcntl(source, F_DUPFD_CLOEXEC, 'int', count), 'fcntl');
          moved.push(from);
        }
        spawnCheck(libc.posix_spawn_file_actions_adddup2(actions, from, target), 'posix_spawn_file_actions_adddup2');
      }
      if (request.cwd !== undefined) {
        const chdir = libc.posix_spawn_file_actions_addchdir_np;
        if (!chdir) throw systemError(ENOSYS, 'posix_spawn_file_actions_addchdir_np'); // glibc < 2.29
        spawnCheck(chdir(actions, request.cwd), 'posix_spawn_file_actions_addchdir_np');
      }
      const pid = new Int32Array(1);
      const rc = libc.posix_spawn(pid, request.path, actions, attr, [...request.argv, null], [...request.env, null]);
      if (rc !== 0) throw systemError(rc, 'posix_spawn', request.path);
      return pid[0] ?? -1;
    } finally {
      libc.posix_spawnattr_destroy(attr);
    }
  } finally {
    libc.posix_spawn_file_actions_destroy(actions);
    for (const fd of moved) libc.close(fd);
  }
}

/** The posix_spawn family returns an error number instead of setting errno. */
function spawnCheck(rc: number, call: string): void {
  if (rc !== 0) throw systemError(rc, call);
}
