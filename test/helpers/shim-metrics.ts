/**
 * What a reliability test measures about a shim daemon from /proc and the file system: open fds,
 * resident memory, its unix sockets (and whether any is abstract), listening TCP ports, files
 * under a directory, and a "does this series trend up" check for memory after warm-up.
 */
import { readFileSync, readdirSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

/** Number of open fds of `pid`. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What each fd of `pid` points at (`socket:[123]`, `pipe:[…]`, a path), by fd number. */
export function fdTargets(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(name), readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** VmRSS of `pid` in KiB. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Signals `pid` catches (SigCgt of /proc/<pid>/status) as a set of signal numbers. */
export function caughtSignals(pid: number): Set<number> {
  const m = /^SigCgt:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const mask = BigInt(`0x${m?.[1] ?? '0'}`);
  const out = new Set<number>();
  for (let s = 1; s <= 64; s++) if ((mask >> BigInt(s - 1)) & 1n) out.add(s);
  return out;
}

/** Signals `pid` ignores (SigIgn). */
export function ignoredSignals(pid: number): Set<number> {
  const m = /^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const mask = BigInt(`0x${m?.[1] ?? '0'}`);
  const out = new Set<number>();
  for (let s = 1; s <= 64; s++) if ((mask >> BigInt(s - 1)) & 1n) out.add(s);
  return out;
}

/** Socket inodes held by `pid`. */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  for (const target of fdTargets(pid).values()) {
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** A row of /proc/net/unix. */
export interface UnixSocketRow {
  inode: number;
  /** '' for an unnamed socket; starts with '@' for the abstract namespace. */
  path: string;
  /** 01 = listening (__SO_ACCEPTCON flag 0x10000). */
  listening: boolean;
}

/** /proc/net/unix of the network namespace of `pid` (default: ours). */
export function unixSockets(pid: number | 'self' = 'self'): UnixSocketRow[] {
  const rows: UnixSocketRow[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    rows.push({ inode: Number(f[6]), path: f[7] ?? '', listening: (Number.parseInt(f[3] ?? '0', 16) & 0x10000) !== 0 });
  }
  return rows;
}

/** The unix sockets `pid` holds, with their bound paths as /proc/net/unix shows them. */
export function unixSocketsOf(pid: number): UnixSocketRow[] {
  const mine = socketInodes(pid);
  return unixSockets(pid).filter((r) => mine.has(r.inode));
}

/** TCP/TCP6 ports in LISTEN state in the network namespace of `pid`, with the socket inodes. */
export function listeningTcp(pid: number | 'self' = 'self'): { port: number; inode: number }[] {
  const out: { port: number; inode: number }[] = [];
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') out.push({ port: Number.parseInt(f[1]?.split(':')[1] ?? '0', 16), inode: Number(f[9]) });
    }
  }
  return out;
}

/** Every path under `dir` (recursive, not following symlinks) with its mtime and size. Missing dir: empty. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      out.set(p, `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Entries of `dir` (not recursive); missing dir: empty. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Arithmetic mean. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Does a memory series grow after warm-up? Compares the mean of its second quarter with the mean
 * of its last quarter (the first quarter is warm-up: lazily loaded code, pools, JIT). Growth within
 * `bandKiB` or `bandRatio` (whichever is larger) is noise: V8 grows its heap in steps and returns
 * memory lazily.
 */
export function rssTrend(samplesKiB: readonly number[], bandKiB = 4096, bandRatio = 0.1): { second: number; last: number; growthKiB: number; limitKiB: number; flat: boolean } {
  const q = Math.max(1, Math.floor(samplesKiB.length / 4));
  const second = mean(samplesKiB.slice(q, 2 * q));
  const last = mean(samplesKiB.slice(samplesKiB.length - q));
  const limitKiB = Math.max(bandKiB, second * bandRatio);
  return { second: Math.round(second), last: Math.round(last), growthKiB: Math.round(last - second), limitKiB: Math.round(limitKiB), flat: last - second <= limitKiB };
}

/** Signal numbers on Linux x86-64, for readable assertions. */
export const SIG = { HUP: 1, INT: 2, QUIT: 3, USR1: 10, USR2: 12, PIPE: 13, TERM: 15, CHLD: 17 } as const;

/** Prints one line of figures under the running test (the soak's note quotes them). */
export function figures(what: string, values: Record<string, unknown>): void {
  process.stdout.write(`      · ${what}: ${JSON.stringify(values)}\n`);
}

/** True once `pid` has exited: gone, or a zombie its parent has not reaped yet (PID 1 here reaps after ~2 s). */
export function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}
