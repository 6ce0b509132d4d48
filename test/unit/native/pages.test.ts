/**
 * native/pages.ts: which mappings of /proc/self/smaps releaseFilePages may unmap. A page the process
 * wrote (an anonymous page in a file mapping) would be lost, so only read-only private file
 * mappings with none are picked.
 */
import assert from 'node:assert/strict';
import { cleanFileMappings } from '../../../native/pages';

/** One smaps entry: its header line and the two fields the parser reads (among others it skips). */
function entry(range: string, perms: string, path: string, rss: number, anon: number): string {
  return [
    `${range} ${perms} 00001000 fe:01 1234${path === '' ? '' : `                       ${path}`}`,
    'Size:               1024 kB',
    `Rss:                 ${rss} kB`,
    'Pss:                  10 kB',
    `Anonymous:            ${anon} kB`,
    'VmFlags: rd mr mw me sd',
  ].join('\n');
}

describe('native/pages cleanFileMappings', () => {
  it('picks private read-only file mappings without an anonymous page, with their resident size', () => {
    const smaps = [
      entry('00400000-00b6f000', 'r--p', '/usr/bin/node', 4096, 0),
      entry('00b72000-02601000', 'r-xp', '/usr/bin/node', 11000, 0),
      entry('0563a000-0563e000', 'r--p', '/usr/bin/node', 16, 8), // RELRO: written by the dynamic linker
      entry('0563e000-0565c000', 'rw-p', '/usr/bin/node', 120, 100),
      entry('7f0000000000-7f0000100000', 'r--s', '/dev/shm/x', 64, 0), // shared: not ours to drop
      entry('7f0000200000-7f0000300000', 'r--p', '/tmp/gone (deleted)', 64, 0),
      entry('7f0000400000-7f0000500000', 'r--p', '', 64, 0), // anonymous
      entry('7ffd00000000-7ffd00002000', 'r-xp', '[vdso]', 8, 0),
      entry('7f0000600000-7f0000700000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6', 0, 0),
    ].join('\n');
    assert.deepEqual(cleanFileMappings(smaps), [
      { start: 0x400000n, end: 0xb6f000n, path: '/usr/bin/node', rssKiB: 4096 },
      { start: 0xb72000n, end: 0x2601000n, path: '/usr/bin/node', rssKiB: 11000 },
      { start: 0x7f0000600000n, end: 0x7f0000700000n, path: '/usr/lib/x86_64-linux-gnu/libc.so.6', rssKiB: 0 },
    ]);
  });

  it('picks nothing from a mapping whose Anonymous field is missing (a kernel that does not say)', () => {
    const smaps = ['00400000-00b6f000 r--p 00000000 fe:01 1234 /usr/bin/node', 'Rss:                 4096 kB'].join('\n');
    assert.deepEqual(cleanFileMappings(smaps), []);
  });
});
