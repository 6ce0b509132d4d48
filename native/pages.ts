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
 * nothing. Task daemons do the same once idle (shim/util/idle-reclaim.ts), and the spare a second after
 * each request: once the daemons have let go of a page, the process still mapping it pays for all of
 * it.
 *
 * Safe only where no page is the process's own copy: MADV_DONTNEED on a private file mapping drops
 * such a copy, in memory or in swap, and maps the file's content again. So a mapping is advised only
 * when smaps (/proc/self/smaps, per mapping) shows it private, of a file, with no write permission,
 * never writable (no `ac` in VmFlags: the kernel marks a private mapping that was writable when made,
 * as the RELRO part of an executable is, which the dynamic linker wrote before making it read-only),
 * with no anonymous page (`Anonymous: 0 kB`) and none in swap (`Swap: 0 kB`), and not locked, huge,
 * I/O or sealed (madvise refuses those). Such a mapping gets a page of the process's own only from a
 * debugger or /proc/<pid>/mem; nothing in this process does that. Between reading smaps and the
 * madvise, another thread could change what a range maps only by loading or unloading a library there
 * (dlopen maps a library read-only, then its data over it; getaddrinfo loads NSS modules from libuv's
 * threads) or by mapping a file; a shim's process does none of that (it resolves no names), and
 * madvise runs on the thread that read smaps.
 */
import { closeSync, openSync, readSync } from 'node:fs';
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
 * Unmaps the resident pages of every clean read-only file mapping (cleanFileMappings, of
 * /proc/self/smaps unless `smaps` is given); returns the KiB that were resident in those it
 * unmapped. A saving only, so it never fails: a mapping madvise refuses, or one unmapped since smaps
 * was read, is left as it is, and no smaps means nothing to do.
 */
export function releaseFilePages(libc: Libc, smaps?: string): number {
  let released = 0;
  for (const m of smaps === undefined ? ownCleanFileMappings() : cleanFileMappings(smaps)) {
    if (m.rssKiB > 0 && libc.madvise(m.start, m.end - m.start, MADV_DONTNEED) === 0) released += m.rssKiB;
  }
  return released;
}

const CHUNK = 16 * 1024;
/**
 * Kept for the process's life: smaps is read in chunks into it. readFileSync would allocate ~200 KB
 * of buffers for ~100 KB of smaps, malloc's memory until a scavenge frees them, and an idle daemon
 * (which calls this when calls stop, shim/util/idle-reclaim.ts) may not scavenge for a long time: the
 * malloc trim after the release found them live and the daemon kept ~190 KiB more of its own.
 */
let chunk: Buffer | undefined;

/** cleanFileMappings of /proc/self/smaps, read in chunks; none if it cannot be read. */
function ownCleanFileMappings(): CleanFileMapping[] {
  let fd: number;
  try {
    fd = openSync('/proc/self/smaps', 'r');
  } catch {
    return [];
  }
  const scanner = new MappingScanner();
  try {
    chunk ??= Buffer.allocUnsafeSlow(CHUNK);
    for (let n = readSync(fd, chunk, 0, CHUNK, null); n > 0; n = readSync(fd, chunk, 0, CHUNK, null)) {
      scanner.feed(chunk.toString('latin1', 0, n));
    }
  } catch {
    return [];
  } finally {
    closeSync(fd);
  }
  return scanner.end();
}

/**
 * The mappings of /proc/<pid>/smaps text that releaseFilePages may advise: private (`p`), not
 * writable, of a file (an absolute path, not deleted), with `Anonymous: 0 kB`, no `Swap:`, and
 * VmFlags without `ac` (once writable) or a flag madvise refuses. A mapping missing the Anonymous or
 * VmFlags line (a kernel that does not say) is left alone. The text may come in pieces that end
 * anywhere.
 */
export function cleanFileMappings(smaps: string | readonly string[]): CleanFileMapping[] {
  const scanner = new MappingScanner();
  for (const piece of typeof smaps === 'string' ? [smaps] : smaps) scanner.feed(piece);
  return scanner.end();
}

type Candidate = CleanFileMapping & { anonKiB: number | undefined; swapKiB: number; flagsOk: boolean | undefined };

/**
 * cleanFileMappings over smaps text fed in pieces that may end in the middle of a line. It makes a
 * string only of a mapping's first line and of the VmFlags of a mapping it may pick, not of each of
 * the ~2500 lines: what an idle daemon allocates here should not be promoted into heap pages it
 * then owns until its next full collection.
 */
class MappingScanner {
  private readonly picked: CleanFileMapping[] = [];
  private current: Candidate | undefined;
  /** The end of the last piece after its last newline. */
  private rest = '';

  feed(piece: string): void {
    const text = this.rest + piece;
    let at = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', at)) {
      this.line(text, at, newline);
      at = newline + 1;
    }
    this.rest = text.slice(at);
  }

  end(): CleanFileMapping[] {
    if (this.rest !== '') this.line(this.rest, 0, this.rest.length);
    this.rest = '';
    this.flush();
    return this.picked;
  }

  /** One line: text[from, to). */
  private line(text: string, from: number, to: number): void {
    // a mapping's first line starts with its address in lower-case hex; a field's with its name
    if (isHexDigit(text.charCodeAt(from))) {
      this.flush();
      // start-end perms offset dev inode [path]
      const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(text.slice(from, to));
      if (!head) return;
      const [, start = '', end = '', perms = '', path = ''] = head;
      if (perms[1] === '-' && perms[3] === 'p' && path.startsWith('/') && !path.endsWith(' (deleted)')) {
        this.current = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), path, rssKiB: 0, anonKiB: undefined, swapKiB: 0, flagsOk: undefined };
      }
      return;
    }
    const current = this.current;
    if (!current) return;
    if (text.startsWith('VmFlags:', from)) {
      const flags = text.slice(from + 'VmFlags:'.length, to).trim().split(/\s+/);
      current.flagsOk = !flags.some((flag) => KEEP_FLAGS.has(flag));
    } else if (text.startsWith('Rss:', from)) {
      current.rssKiB = kib(text, from + 'Rss:'.length, to) ?? current.rssKiB;
    } else if (text.startsWith('Anonymous:', from)) {
      current.anonKiB = kib(text, from + 'Anonymous:'.length, to);
    } else if (text.startsWith('Swap:', from)) {
      current.swapKiB = kib(text, from + 'Swap:'.length, to) ?? Number.POSITIVE_INFINITY;
    }
  }

  private flush(): void {
    const c = this.current;
    if (c?.anonKiB === 0 && c.swapKiB === 0 && c.flagsOk === true) this.picked.push({ start: c.start, end: c.end, path: c.path, rssKiB: c.rssKiB });
    this.current = undefined;
  }
}

function isHexDigit(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66);
}

/** The number of `<spaces><digits> kB` in text[from, to), without making a string; undefined if it is not that. */
function kib(text: string, from: number, to: number): number | undefined {
  let i = from;
  while (i < to && text.charCodeAt(i) === 0x20) i++;
  const digits = i;
  let value = 0;
  for (; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) break;
    value = value * 10 + (code - 0x30);
  }
  return i > digits && text.startsWith(' kB', i) && i + 3 === to ? value : undefined;
}
