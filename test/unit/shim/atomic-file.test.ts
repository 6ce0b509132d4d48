/**
 * Crash-safe small files (address, options.json, runtime): a reader sees the old or the whole new
 * content, the mode is applied at creation, and no temporary file is ever left behind.
 */
import assert from 'node:assert/strict';
import fs, { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { writeFileAtomic } from '../../../shim/util/atomic-file';
import { tempDir } from './fakes';

describe('shim/util/atomic-file', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('writes a new file with the content and mode, leaving no temporary file', () => {
    const path = join(dir.path, 'address');
    writeFileAtomic(path, 'unix:///run/containerd/s/ab', 0o600);
    assert.equal(readFileSync(path, 'utf8'), 'unix:///run/containerd/s/ab');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir.path), ['address']);
  });

  it('replaces an existing file (a new inode: open readers keep the old content)', () => {
    const path = join(dir.path, 'options.json');
    writeFileSync(path, 'old');
    const before = statSync(path).ino;
    writeFileAtomic(path, Buffer.from('{"root":"/r"}'));
    assert.equal(readFileSync(path, 'utf8'), '{"root":"/r"}');
    assert.notEqual(statSync(path).ino, before);
    assert.deepEqual(readdirSync(dir.path), ['options.json']);
  });

  it('writes large content completely', () => {
    const path = join(dir.path, 'big');
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    writeFileAtomic(path, data);
    assert.ok(readFileSync(path).equals(data));
  });

  it('fails without leaving a temporary file when the target cannot be replaced', () => {
    const path = join(dir.path, 'target');
    mkdirSync(join(path, 'sub'), { recursive: true }); // a non-empty directory cannot be renamed over
    assert.throws(() => writeFileAtomic(path, 'x'), { code: 'EISDIR' });
    assert.deepEqual(readdirSync(dir.path), ['target']);
  });

  it('syncs the file before the rename unless it need not be durable, atomic either way', () => {
    const fsync = sinon.spy(fs, 'fsyncSync');
    try {
      writeFileAtomic(join(dir.path, 'address'), 'unix:///x');
      assert.equal(fsync.callCount, 1, 'durable by default');
      writeFileAtomic(join(dir.path, 'options.json'), '{}', 0o600, { durable: false });
      assert.equal(fsync.callCount, 1, 'no sync');
    } finally {
      fsync.restore();
    }
    assert.equal(readFileSync(join(dir.path, 'options.json'), 'utf8'), '{}');
    assert.deepEqual(readdirSync(dir.path).sort(), ['address', 'options.json']);
  });

  it('fails when the directory does not exist', () => {
    assert.throws(() => writeFileAtomic(join(dir.path, 'missing', 'f'), 'x'), { code: 'ENOENT' });
  });
});
