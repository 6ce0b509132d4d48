/**
 * A child started by posix_spawn (native.spawn) instead of libuv's fork: the daemon is ~50 MiB of
 * Node, and fork copies its page tables before runc can even start — ~1 ms of every runc call.
 *
 * Its exit is learnt through a pidfd watched in Node's own epoll, and reaped by waitid(P_PIDFD),
 * so it needs no SIGCHLD handler: the `delete` action, which never reaps, can use it as well as the
 * daemon. Its pid is registered with the reaper as someone else's before anything can reap it (the
 * reaper only runs from the event loop, never between posix_spawn returning and `own`).
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import * as net from 'node:net';
import { constants } from 'node:os';
import { delimiter, isAbsolute } from 'node:path';
import { type Native } from '../../native';
import { type Exit, nowNs } from './exit';
import { type Child, type SpawnOptions, type Spawned } from './child';

/** What a direct child needs from the native layer. */
export type DirectNative = Pick<Native, 'spawn' | 'pipe' | 'pidfdOpen' | 'waitPidfd' | 'pidfdSendSignal' | 'watchFd' | 'close'>;

/** Who else reaps: the SIGCHLD reaper must leave a direct child alone until we have reaped it. */
export interface Ownership {
  own(pid: number): void;
  disown(pid: number): void;
  /** The exits the reaper reaps: the way out when no pidfd can be had. */
  onExit(listener: (exit: Exit) => void): () => void;
}

/**
 * Starts `command` with posix_spawn. Throws only when posix_spawn itself is missing (ENOSYS), so
 * the caller can fall back to child_process; a program that cannot be started (ENOENT, EACCES) is
 * reported as child_process does: no pid, and `exit` rejects.
 */
export function spawnDirect(native: DirectNative, owner: Ownership, command: string, args: readonly string[], options: SpawnOptions): Spawned {
  const env = options.env ?? process.env;
  const parentEnds: Array<net.Socket | null> = [];
  const childEnds: number[] = [];
  const fds = options.stdio.map((spec, i): number | null => {
    if (spec === 'ignore') return null;
    if (spec !== 'pipe') return spec;
    const [read, write] = native.pipe();
    const [mine, theirs] = i === 0 ? [write, read] : [read, write];
    childEnds.push(theirs);
    parentEnds[i] = new net.Socket({ fd: mine, readable: i !== 0, writable: i === 0 });
    return theirs;
  });
  const stream = (i: number): net.Socket | null => parentEnds[i] ?? null;
  let pid: number;
  try {
    const found = resolveCommand(command, env, options.cwd);
    if (typeof found !== 'string') throw Object.assign(new Error(`spawn ${command} ${found.code}`), { ...found, syscall: `spawn ${command}`, path: command });
    pid = native.spawn({ path: found, argv: [command, ...args], env: environment(env), ...(options.cwd !== undefined ? { cwd: options.cwd } : {}), fds });
  } catch (err) {
    for (const socket of parentEnds) socket?.destroy();
    if ((err as NodeJS.ErrnoException).code === 'ENOSYS') throw err;
    const failed = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    failed.catch(() => undefined); // the caller may never look: not an unhandled rejection
    return { child: { pid: undefined, stdin: null, stdout: null, stderr: null, kill: () => false }, exit: failed };
  } finally {
    for (const fd of childEnds) native.close(fd);
  }
  owner.own(pid);
  let exited = false;
  let pidfd: number | undefined;
  try {
    pidfd = native.pidfdOpen(pid); // our child, not reaped yet: the pid cannot have been reused
  } catch {
    pidfd = undefined; // out of descriptors: the SIGCHLD reaper reaps it instead (below)
  }
  const exit = new Promise<Exit>((resolve) => {
    const done = (info: { status: number; signal?: number }): void => {
      exited = true;
      resolve(info.signal === undefined ? { pid, status: info.status, at: nowNs() } : { pid, status: info.status, signal: info.signal, at: nowNs() });
    };
    if (pidfd === undefined) {
      const off = owner.onExit((e) => {
        if (e.pid !== pid) return;
        off();
        done(e);
      });
      owner.disown(pid);
      return;
    }
    const fd = pidfd;
    const watch = native.watchFd(fd, () => {
      const info = native.waitPidfd(fd);
      if (!info) return;
      watch.close();
      native.close(fd);
      owner.disown(pid);
      done(info);
    });
  });
  const child: Child = {
    pid,
    stdin: stream(0),
    stdout: stream(1),
    stderr: stream(2),
    kill(signal = 'SIGTERM') {
      if (exited) return false;
      try {
        // until we reap it the pid is still this child's, pidfd or not
        if (pidfd === undefined) process.kill(pid, signal);
        else native.pidfdSendSignal(pidfd, constants.signals[signal]);
        return true;
      } catch {
        return false;
      }
    },
  };
  return { child, exit };
}

/**
 * `command` as execvp in the child would find it (libuv's children search the same way): each
 * PATH entry in turn, a relative one (or an empty one, ".") taken from the child's working
 * directory — joined as text, so `..` goes through symlinks as the kernel's lookup does; the first
 * executable regular file wins. Nowhere: ENOENT, or EACCES if some entry had the name but not as
 * an executable file (execvp's rule: execve says EACCES for a directory or a file without x).
 * With no PATH at all the usual sbin and bin directories are searched (execvp would search only
 * /bin:/usr/bin, where runc is not). Looked up on every spawn, as Go's exec.Command does. A
 * directory without it costs a stat that does not throw: three thrown ENOENT errors per runc call
 * (bin/ and two more directories come before /usr/sbin) took ~0.25 ms of the daemon's time per exec.
 */
function resolveCommand(command: string, env: NodeJS.ProcessEnv, cwd: string | undefined): string | { code: 'ENOENT' | 'EACCES'; errno: number } {
  if (command.includes('/')) return command;
  let denied = false;
  for (const dir of (env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const path = dir ? `${dir}/${command}` : command;
    // absolute, so that the child, which chdirs first, runs what was looked at
    const candidate = isAbsolute(path) ? path : `${childCwd(cwd)}/${path}`;
    const kind = entryKind(candidate);
    if (kind === 'none') continue;
    if (kind === 'file') {
      try {
        accessSync(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // not executable by us: the next directory
      }
    }
    denied = true;
  }
  return denied ? { code: 'EACCES', errno: -13 } : { code: 'ENOENT', errno: -2 };
}

/** The child's working directory as an absolute path (joined as text, like the kernel's lookup). */
function childCwd(cwd: string | undefined): string {
  if (cwd === undefined) return process.cwd();
  return isAbsolute(cwd) ? cwd : `${process.cwd()}/${cwd}`;
}

/** What is at `path`: a regular file, something else, or nothing we can reach (ENOENT, ENOTDIR, EACCES: the next directory). */
function entryKind(path: string): 'file' | 'other' | 'none' {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return 'none';
    return st.isFile() ? 'file' : 'other';
  } catch {
    return 'none';
  }
}

function environment(env: NodeJS.ProcessEnv): string[] {
  const entries: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) entries.push(`${name}=${value}`);
  return entries;
}
