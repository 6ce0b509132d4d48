import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRuntime, shimBinaryName } from '../../../supervisor/shims/runtime';

describe('supervisor/shims/runtime: runtime names resolved as containerd does', () => {
  let dir: string;
  const exe = (path: string): string => {
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsrunc-rt-'));
    for (const d of ['cwd', 'path1', 'path2', 'bin']) mkdirSync(join(dir, d));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the binary containerd-shim-<second-to-last>-<last>', () => {
    assert.equal(shimBinaryName('io.containerd.runc.v2'), 'containerd-shim-runc-v2');
    assert.equal(shimBinaryName('io.containerd.tsrunc.v2'), 'containerd-shim-tsrunc-v2');
    assert.equal(shimBinaryName('kata.v2'), 'containerd-shim-kata-v2');
    assert.equal(shimBinaryName('nodots'), '');
    assert.equal(shimBinaryName('.x.v2'), '');
  });

  it('looks in the working directory, then PATH in order, then its own bin/', () => {
    const opts = { path: `${join(dir, 'path1')}:${join(dir, 'path2')}:relative/ignored`, binDir: join(dir, 'bin'), cwd: join(dir, 'cwd') };
    const own = exe(join(dir, 'bin', 'containerd-shim-x-v1'));
    assert.equal(resolveRuntime('io.containerd.x.v1', opts), own);
    const second = exe(join(dir, 'path2', 'containerd-shim-x-v1'));
    assert.equal(resolveRuntime('io.containerd.x.v1', opts), second);
    const first = exe(join(dir, 'path1', 'containerd-shim-x-v1'));
    assert.equal(resolveRuntime('io.containerd.x.v1', opts), first);
    const cwd = exe(join(dir, 'cwd', 'containerd-shim-x-v1'));
    assert.equal(resolveRuntime('io.containerd.x.v1', opts), cwd);
    writeFileSync(join(dir, 'path1', 'containerd-shim-y-v1'), 'not executable');
    assert.throws(() => resolveRuntime('io.containerd.y.v1', opts), { kind: 'notFound' });
  });

  it('takes an absolute path as is, and refuses names it cannot use', () => {
    const abs = exe(join(dir, 'my-shim'));
    const opts = { path: '', binDir: join(dir, 'bin') };
    assert.equal(resolveRuntime(abs, opts), abs);
    assert.throws(() => resolveRuntime(join(dir, 'missing'), opts), { kind: 'notFound' });
    assert.throws(() => resolveRuntime('nodots', opts), { kind: 'invalidArgument' });
    assert.throws(() => resolveRuntime('rel/io.containerd.x.v1', opts), { kind: 'invalidArgument' });
  });
});
