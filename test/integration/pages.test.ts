/**
 * native/pages.ts in a real Node process run as the forking spare is (its V8 flags make Node compile
 * its built-ins from the sources in its executable): releaseFilePages unmaps the resident pages of
 * the executable's read-only mappings, keeps every page the process wrote, and the process goes on
 * working — JavaScript, Node's built-ins, calls through koffi, a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FORKING_SPARE_NODE_OPTIONS } from '../../shim/manager/start';
import { skipBecause } from '../helpers/system';

const NATIVE = join(__dirname, '..', '..', 'native');

const SCRIPT = `
const fs = require('node:fs');
const { loadNative } = require(${JSON.stringify(NATIVE)});
/** Rss and Anonymous (KiB) of the executable's mappings, by permissions. */
const mapped = () => {
  const out = {};
  let cur;
  for (const line of fs.readFileSync('/proc/self/smaps', 'latin1').split('\\n')) {
    const h = /^[0-9a-f]+-[0-9a-f]+ (\\S{4}) \\S+ \\S+ \\S+ *(.*)$/.exec(line);
    if (h) { cur = h[2] === process.execPath ? (out[h[1]] ??= { rss: 0, anon: 0 }) : undefined; continue; }
    const f = /^(Rss|Anonymous):\\s+(\\d+) kB$/.exec(line);
    if (cur && f) cur[f[1] === 'Rss' ? 'rss' : 'anon'] += Number(f[2]);
  }
  return out;
};
const native = loadNative();
require('node:crypto'); require('node:net'); require('node:child_process'); // built-ins compiled from the executable
const before = mapped();
const released = native.releaseFilePages();
const after = mapped();
const work = {
  hash: require('node:crypto').createHash('sha256').update('tsrunc').digest('hex').slice(0, 16),
  json: JSON.parse(JSON.stringify({ a: [1, 2, 3] })).a.length,
  koffi: (native.trimMalloc(), native.pipe().map((fd) => (native.close(fd), fd >= 0)).every(Boolean)),
  child: spawnSyncTrue(),
};
function spawnSyncTrue() { return require('node:child_process').spawnSync('/bin/true').status; }
process.stdout.write(JSON.stringify({ before, released, after, work }));
`;

interface Mapped {
  rss: number;
  anon: number;
}

describe('native/pages releaseFilePages', () => {
  it("unmaps the executable's read-only pages, keeps the written ones, and the process works on", function () {
    if (process.platform !== 'linux') skipBecause(this, 'native/ is Linux only');
    const r = spawnSync(process.execPath, [...FORKING_SPARE_NODE_OPTIONS, '-e', SCRIPT], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { before: Record<string, Mapped>; after: Record<string, Mapped>; released: number; work: Record<string, unknown> };
    const { before, after } = out;
    const readOnly = (m: Record<string, Mapped>): number => (m['r--p']?.rss ?? 0) + (m['r-xp']?.rss ?? 0);
    assert.ok(out.released >= 1024, `released ${out.released} KiB`);
    // what the few calls between the release and the second read map again is far less
    assert.ok(readOnly(after) < readOnly(before) / 2, `resident read-only KiB ${readOnly(before)} → ${readOnly(after)}`);
    // the pages the dynamic linker wrote (RELRO) and the data segment's stay the process's own
    assert.equal(after['r--p']?.anon, before['r--p']?.anon);
    assert.ok((after['rw-p']?.anon ?? 0) >= (before['rw-p']?.anon ?? 0));
    assert.deepEqual(out.work, { hash: '3b62e50201e88ec9', json: 3, koffi: true, child: 0 });
  });
});
