import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot } from '../../../shim/container/scoped-path';

describe('shim/container/scoped-path: resolving a mount target inside the rootfs', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tsrunc-scoped-'));
    mkdirSync(join(root, 'usr', 'lib'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('keeps plain and missing paths under the root', () => {
    assert.equal(resolveInRoot(root, 'usr/lib'), join(root, 'usr/lib'));
    assert.equal(resolveInRoot(root, 'new/dir'), join(root, 'new/dir'));
  });

  it('clamps .. at the root', () => {
    assert.equal(resolveInRoot(root, '../../etc'), join(root, 'etc'));
    assert.equal(resolveInRoot(root, 'usr/../../../lib'), join(root, 'lib'));
  });

  it('follows an absolute symlink relative to the root, never to the host', () => {
    symlinkSync('/tmp/victim', join(root, 'escape'));
    assert.equal(resolveInRoot(root, 'escape'), join(root, 'tmp/victim'));
    symlinkSync('../../../../etc', join(root, 'usr', 'up'));
    assert.equal(resolveInRoot(root, 'usr/up/shadow'), join(root, 'etc/shadow'));
  });

  it('follows a relative symlink and gives up on a loop', () => {
    symlinkSync('usr/lib', join(root, 'l'));
    assert.equal(resolveInRoot(root, 'l/x'), join(root, 'usr/lib/x'));
    symlinkSync('loop', join(root, 'loop'));
    assert.throws(() => resolveInRoot(root, 'loop'), { code: 'ELOOP' });
  });
});
