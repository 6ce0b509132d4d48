/**
 * native/pages.ts: which mappings of /proc/self/smaps releaseFilePages may unmap. A page the process
 * wrote (an anonymous page in a file mapping, in memory or in swap) would be lost, and madvise
 * refuses some mappings, so only read-only private file mappings that were never writable, with no
 * page of their own, are picked.
 */
import assert from 'node:assert/strict';
import { type Libc } from '../../../native/libc';
import { cleanFileMappings, releaseFilePages } from '../../../native/pages';

interface Entry {
  range: string;
  perms: string;
  path: string;
  rss: number;
  anon: number;
  swap?: number;
  flags?: string;
}

/** One smaps entry: its header line, the fields the parser reads, and some it skips. */
function entry({ range, perms, path, rss, anon, swap = 0, flags = 'rd mr mw me' }: Entry): string {
  return [
    `${range} ${perms} 00001000 fe:01 1234${path === '' ? '' : `                       ${path}`}`,
    'Size:               1024 kB',
    `Rss:                 ${rss} kB`,
    'Pss:                  10 kB',
    `Anonymous:            ${anon} kB`,
    `Swap:                 ${swap} kB`,
    'SwapPss:              7 kB',
    'THPeligible:    0',
    `VmFlags: ${flags}`,
  ].join('\n');
}

const NODE = '/usr/bin/node';

describe('native/pages cleanFileMappings', () => {
  it('picks private read-only file mappings never writable and without a page of their own', () => {
    const smaps = [
      entry({ range: '00400000-00b6f000', perms: 'r--p', path: NODE, rss: 4096, anon: 0, flags: 'rd mr mw me dw sd' }),
      entry({ range: '00b72000-02601000', perms: 'r-xp', path: NODE, rss: 11000, anon: 0, flags: 'rd ex mr mw me dw sd' }),
      entry({ range: '7f0000600000-7f0000700000', perms: 'r-xp', path: '/usr/lib/x86_64-linux-gnu/lib c.so.6', rss: 0, anon: 0 }),
      // RELRO: written by the dynamic linker, then made read-only
      entry({ range: '0563a000-0563e000', perms: 'r--p', path: NODE, rss: 16, anon: 8, flags: 'rd mr mw me ac sd' }),
      // the same with its written pages in swap: Anonymous counts only what is in memory
      entry({ range: '0563a000-0563e000', perms: 'r--p', path: NODE, rss: 8, anon: 0, swap: 8, flags: 'rd mr mw me ac sd' }),
      // once writable, nothing written (yet): left alone too
      entry({ range: '7f0000800000-7f0000801000', perms: 'r--p', path: '/tmp/data', rss: 4, anon: 0, flags: 'rd mr mw me ac' }),
      entry({ range: '0563e000-0565c000', perms: 'rw-p', path: NODE, rss: 120, anon: 100, flags: 'rd wr mr mw me ac sd' }),
      entry({ range: '7f0000000000-7f0000100000', perms: 'r--s', path: '/dev/shm/x', rss: 64, anon: 0 }), // shared: not ours to drop
      entry({ range: '7f0000200000-7f0000300000', perms: 'r--p', path: '/tmp/gone (deleted)', rss: 64, anon: 0 }),
      entry({ range: '7f0000400000-7f0000500000', perms: 'r--p', path: '', rss: 64, anon: 0 }), // anonymous
      entry({ range: '7ffd00000000-7ffd00002000', perms: 'r-xp', path: '[vdso]', rss: 8, anon: 0 }),
      // madvise refuses these: locked, huge pages, I/O
      entry({ range: '7f0000900000-7f0000a00000', perms: 'r--p', path: '/opt/locked', rss: 64, anon: 0, flags: 'rd mr mw me lo' }),
      entry({ range: '7f0000a00000-7f0000c00000', perms: 'r--p', path: '/dev/hugepages/x', rss: 2048, anon: 0, flags: 'rd mr mw me ht' }),
      entry({ range: '7f0000c00000-7f0000c01000', perms: 'r--p', path: '/dev/mem', rss: 4, anon: 0, flags: 'rd mr mw me io pf' }),
    ].join('\n');
    assert.deepEqual(cleanFileMappings(smaps), [
      { start: 0x400000n, end: 0xb6f000n, path: NODE, rssKiB: 4096 },
      { start: 0xb72000n, end: 0x2601000n, path: NODE, rssKiB: 11000 },
      { start: 0x7f0000600000n, end: 0x7f0000700000n, path: '/usr/lib/x86_64-linux-gnu/lib c.so.6', rssKiB: 0 },
    ]);
  });

  it('reads smaps fed in pieces that end anywhere, as read(2) gives it in chunks', () => {
    const smaps = [
      entry({ range: '00400000-00b6f000', perms: 'r--p', path: NODE, rss: 4096, anon: 0 }),
      entry({ range: '0563a000-0563e000', perms: 'r--p', path: NODE, rss: 16, anon: 8, flags: 'rd mr mw me ac sd' }),
      entry({ range: '00b72000-02601000', perms: 'r-xp', path: NODE, rss: 11000, anon: 0 }),
    ].join('\n');
    const whole = cleanFileMappings(smaps);
    assert.equal(whole.length, 2);
    for (let size = 1; size < smaps.length; size += size < 40 ? 1 : 37) {
      const pieces: string[] = [];
      for (let at = 0; at < smaps.length; at += size) pieces.push(smaps.slice(at, at + size));
      assert.deepEqual(cleanFileMappings(pieces), whole, `pieces of ${size}`);
    }
  });

  it('picks nothing from a mapping whose Anonymous or VmFlags line is missing (a kernel that does not say)', () => {
    const head = '00400000-00b6f000 r--p 00000000 fe:01 1234 /usr/bin/node';
    assert.deepEqual(cleanFileMappings([head, 'Rss:                 4096 kB', 'VmFlags: rd mr mw me'].join('\n')), []);
    assert.deepEqual(cleanFileMappings([head, 'Rss:                 4096 kB', 'Anonymous:            0 kB'].join('\n')), []);
  });
});

describe('native/pages releaseFilePages', () => {
  it('advises each clean mapping, goes on past one madvise refuses, and counts only what it unmapped', () => {
    const smaps = [
      entry({ range: '00400000-00500000', perms: 'r--p', path: NODE, rss: 100, anon: 0 }),
      entry({ range: '00600000-00700000', perms: 'r-xp', path: NODE, rss: 200, anon: 0 }), // refused below
      entry({ range: '00800000-00900000', perms: 'r-xp', path: NODE, rss: 0, anon: 0 }), // nothing resident: not advised
      entry({ range: '00a00000-00b00000', perms: 'r--p', path: '/usr/lib/x.so', rss: 300, anon: 0 }),
      entry({ range: '00c00000-00d00000', perms: 'r--p', path: NODE, rss: 16, anon: 8, flags: 'rd mr mw me ac' }),
    ].join('\n');
    const calls: [bigint, bigint, number][] = [];
    const libc = {
      madvise: (start: bigint, length: bigint, advice: number): number => {
        calls.push([start, length, advice]);
        return start === 0x600000n ? -1 : 0;
      },
    } as unknown as Libc;
    assert.equal(releaseFilePages(libc, smaps), 400);
    assert.deepEqual(calls, [
      [0x400000n, 0x100000n, 4],
      [0x600000n, 0x100000n, 4],
      [0xa00000n, 0x100000n, 4],
    ]);
  });
});
