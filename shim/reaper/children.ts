/**
 * Lists the children of this process: the main thread's /proc/self/task/<pid>/children, or, on a
 * kernel without CONFIG_PROC_CHILDREN, the processes whose stat names us as parent.
 *
 * The main thread's file is enough, and reading every thread's cost ~100 µs per SIGCHLD in a daemon
 * (8 threads) against ~10: a child is listed under the thread that forked it, and the shim forks
 * only on its main thread (child_process and posix_spawn both run there); an orphan is re-parented
 * to the first live thread of the subreaper (the kernel's find_alive_thread), which is the main
 * thread while the process lives — measured too: an orphan of a child forked by a worker thread
 * was listed under the main thread.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

/**
 * The main thread's children file, opened once (close-on-exec) and read from offset 0 each time:
 * one pread instead of readFileSync's open, fstat, reads and close — ~4 µs against ~19 warm, and
 * it runs on every SIGCHLD. null: no such file (a kernel without CONFIG_PROC_CHILDREN).
 */
let childrenFd: number | null | undefined;
/** The process that opened childrenFd: a fork of it (native forkDetached) must open its own. */
let openedBy: number | undefined;
/** One pread takes the whole list (a seq_file regenerates from the start at every read at an offset, so several reads could tear it); made on first use, grown when full. */
let buffer: Buffer | undefined;

/** The pids of our direct children, zombies included. */
export function listChildren(): number[] {
  if (openedBy !== process.pid) {
    if (typeof childrenFd === 'number') closeQuiet(childrenFd); // our copy of the parent's
    childrenFd = undefined;
    openedBy = process.pid;
  }
  childrenFd ??= openChildrenFile();
  if (childrenFd === null) return fromProcStat();
  let text: string;
  try {
    text = readWhole(childrenFd);
  } catch {
    // our fd was closed under us (EBADF), its number maybe reused (ESPIPE): forget it, never close
    // it, and read the file the slow way this once; the next call opens it again
    childrenFd = undefined;
    text = readFileSync(childrenFile(), 'latin1');
  }
  return parsePids(text);
}

function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // not open
  }
}

function childrenFile(): string {
  return `/proc/self/task/${process.pid}/children`;
}

function openChildrenFile(): number | null {
  try {
    return openSync(childrenFile(), 'r');
  } catch {
    return null;
  }
}

function readWhole(fd: number): string {
  buffer ??= Buffer.alloc(64 * 1024);
  for (;;) {
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    if (n < buffer.length) return buffer.toString('latin1', 0, n);
    buffer = Buffer.alloc(buffer.length * 2); // thousands of children: read them all in one go
  }
}

function parsePids(text: string): number[] {
  const pids: number[] = [];
  for (const word of text.split(' ')) if (word) pids.push(Number(word));
  return pids;
}

function fromProcStat(): number[] {
  const pids: number[] = [];
  const self = process.pid;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === self) pids.push(Number(name));
  }
  return pids;
}
