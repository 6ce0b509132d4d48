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
 * such a copy and maps the file's content again. So only private mappings of a file with no write
 * permission and no anonymous page (the kernel's per-mapping `Anonymous:` of /proc/self/smaps; the
 * RELRO part of an executable, written by the dynamic linker, has some) are advised. Nothing can
 * write to such a mapping without an mprotect(2) first, which nothing in this process runs while
 * this synchronous call does.
 */
import { readFileSync } from 'node:fs';
import { check } from './check';
import { type Libc } from './libc';

const MADV_DONTNEED = 4;
/** madvise on a range no longer mapped. */
const ENOMEM = 12;

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
 * KiB that were resident in them.
 */
export function releaseFilePages(libc: Libc, smaps = readFileSync('/proc/self/smaps', 'latin1')): number {
  let released = 0;
  for (const m of cleanFileMappings(smaps)) {
    if (m.rssKiB === 0) continue;
    if (libc.madvise(m.start, m.end - m.start, MADV_DONTNEED) < 0) {
      if (libc.errno() === ENOMEM) continue; // unmapped since the read
      check(libc, -1, 'madvise');
    }
    released += m.rssKiB;
  }
  return released;
}

/**
 * The mappings of /proc/<pid>/smaps text that releaseFilePages may advise: private (`p`), not
 * writable, of a file (an absolute path, not deleted), with `Anonymous: 0 kB`.
 */
export function cleanFileMappings(smaps: string): CleanFileMapping[] {
  const out: CleanFileMapping[] = [];
  let current: (CleanFileMapping & { anonKiB: number | undefined }) | undefined;
  const flush = (): void => {
    if (current?.anonKiB === 0) out.push({ start: current.start, end: current.end, path: current.path, rssKiB: current.rssKiB });
    current = undefined;
  };
  for (const line of smaps.split('\n')) {
    // start-end perms offset dev inode [path]
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) {
      flush();
      const [, start = '', end = '', perms = '', path = ''] = head;
      if (perms[1] === '-' && perms[3] === 'p' && path.startsWith('/') && !path.endsWith(' (deleted)')) {
        current = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path, rssKiB: 0, anonKiB: undefined };
      }
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    if (field?.[1] === 'Rss') current.rssKiB = Number(field[2]);
    else if (field?.[1] === 'Anonymous') current.anonKiB = Number(field[2]);
  }
  flush();
  return out;
}
