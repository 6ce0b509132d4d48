/**
 * Unmaps the pages of read-only file mappings (executables', libraries' text and read-only data)
 * from this process, which keeps them in the page cache: a later access maps them again from there.
 *
 * Why (the forking spare, shim/manager/spare.ts): PSS counts a page of a file mapping to every
 * process that maps it, and wholly to a process that is the only one. Starting up (Node compiles
 * its built-ins from the sources in its executable when V8 flags reject their code cache), the
 * forking spare maps ~16 MiB of /usr/bin/node that its forks never touch: 8 MiB of its PSS beside
 * twenty forks, 0.4 MiB per container. A fork copies no page table entry of a mapping that has no
 * anonymous page (the kernel fills those on fault), so unmapping them in the spare costs its forks
 * nothing.
 *
 * Safe only where no page is the process's own copy: MADV_DONTNEED on a private file mapping drops
 * such a copy, in memory or in swap, and maps the file's content again. So a mapping is advised only
 * when smaps (/proc/self/smaps, per mapping) shows it private, of a file, with no write permission,
 * never writable (no `ac` in VmFlags: the kernel marks a private mapping that was writable when made,
 * as the RELRO part of an executable is, which the dynamic linker wrote before making it read-only),
 * with no anonymous page (`Anonymous: 0 kB`) and none in swap (`Swap: 0 kB`), and not locked, huge,
 * I/O or sealed (madvise refuses those). Such a mapping gets a page of the process's own only from a
 * debugger or /proc/<pid>/mem; nothing in this process does that.
 */
import { readFileSync } from 'node:fs';
import { type Libc } from './libc';

const MADV_DONTNEED = 4;
/** VmFlags of a mapping that is not advised: once writable (`ac`), locked, I/O, PFN-mapped, huge, sealed. */
const KEEP_FLAGS = new Set(['ac', 'lo', 'io', 'pf', 'ht', 'sl']);

/** A private read-only file mapping with no page of its own: `start`, `end` (bytes), and what it maps. */
export interface CleanFileMapping {
  start: bigint;
  end: bigint;
  path: string;
  /** Resident KiB when smaps was read. */
  rssKiB: number;
}

/**
 * Unmaps the resident pages of every clean read-only file mapping (cleanFileMappings); returns the
 * KiB that were resident in those it unmapped. A saving only, so it never fails: a mapping madvise
 * refuses, or one unmapped since smaps was read, is left as it is, and no smaps means nothing to do.
 */
export function releaseFilePages(libc: Libc, smaps = readSmaps()): number {
  let released = 0;
  for (const m of cleanFileMappings(smaps)) {
    if (m.rssKiB > 0 && libc.madvise(m.start, m.end - m.start, MADV_DONTNEED) === 0) released += m.rssKiB;
  }
  return released;
}

function readSmaps(): string {
  try {
    return readFileSync('/proc/self/smaps', 'latin1');
  } catch {
    return '';
  }
}

/**
 * The mappings of /proc/<pid>/smaps text that releaseFilePages may advise: private (`p`), not
 * writable, of a file (an absolute path, not deleted), with `Anonymous: 0 kB`, no `Swap:`, and
 * VmFlags without `ac` (once writable) or a flag madvise refuses. A mapping missing the Anonymous or
 * VmFlags line (a kernel that does not say) is left alone.
 */
export function cleanFileMappings(smaps: string): CleanFileMapping[] {
  const out: CleanFileMapping[] = [];
  let current: (CleanFileMapping & { anonKiB: number | undefined; swapKiB: number; flagsOk: boolean | undefined }) | undefined;
  const flush = (): void => {
    if (current?.anonKiB === 0 && current.swapKiB === 0 && current.flagsOk === true) {
      out.push({ start: current.start, end: current.end, path: current.path, rssKiB: current.rssKiB });
    }
    current = undefined;
  };
  for (const line of smaps.split('\n')) {
    // start-end perms offset dev inode [path]
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) {
      flush();
      const [, start = '', end = '', perms = '', path = ''] = head;
      if (perms[1] === '-' && perms[3] === 'p' && path.startsWith('/') && !path.endsWith(' (deleted)')) {
        current = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path, rssKiB: 0, anonKiB: undefined, swapKiB: 0, flagsOk: undefined };
      }
      continue;
    }
    if (!current) continue;
    if (line.startsWith('VmFlags:')) {
      current.flagsOk = !line.slice('VmFlags:'.length).trim().split(/\s+/).some((flag) => KEEP_FLAGS.has(flag));
      continue;
    }
    const field = /^(Rss|Anonymous|Swap):\s+(\d+) kB$/.exec(line);
    if (field?.[1] === 'Rss') current.rssKiB = Number(field[2]);
    else if (field?.[1] === 'Anonymous') current.anonKiB = Number(field[2]);
    else if (field?.[1] === 'Swap') current.swapKiB = Number(field[2]);
  }
  flush();
  return out;
}
