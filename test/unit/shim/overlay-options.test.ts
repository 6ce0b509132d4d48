import assert from 'node:assert/strict';
import { compactLowerdir } from '../../../shim/container/overlay-options';
import { type MountSpec } from '../../../shim/container/rootfs';

const compact = (m: MountSpec): ReturnType<typeof compactLowerdir> => compactLowerdir(m.type, m.options);

const SNAPSHOTS = '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots';

/** An overlay of `n` layers as containerd's overlayfs snapshotter gives it, newest first. */
function overlay(n: number, root = SNAPSHOTS): MountSpec {
  const lower = Array.from({ length: n }, (_, i) => `${root}/${n - i}/fs`).join(':');
  return { type: 'overlay', source: 'overlay', target: '', options: ['index=off', `workdir=${root}/${n + 1}/work`, `upperdir=${root}/${n + 1}/fs`, `lowerdir=${lower}`, 'redirect_dir=off'] };
}

describe('shim/container/overlay-options: compactLowerdir', () => {
  it('leaves options that fit in a page alone', () => {
    assert.equal(compact(overlay(10)), undefined);
  });

  it('gives 70 layers relative to their common parent, the other options as they were, lowerdir last', () => {
    const m = overlay(70);
    assert.ok(m.options.join(',').length > 4096);
    const c = compact(m);
    assert.ok(c);
    assert.equal(c.cwd, SNAPSHOTS);
    assert.deepEqual(c.options.slice(0, 4), ['index=off', `workdir=${SNAPSHOTS}/71/work`, `upperdir=${SNAPSHOTS}/71/fs`, 'redirect_dir=off']);
    assert.equal(c.options[4], `lowerdir=${Array.from({ length: 70 }, (_, i) => `${70 - i}/fs`).join(':')}`);
    assert.ok(c.options.join(',').length < 4096 - 512);
  });

  it('backs up to a whole directory when the common prefix ends inside a name (snapshots 10–19: ".../snapshots/1")', () => {
    const lower = Array.from({ length: 10 }, (_, i) => `${SNAPSHOTS}/1${i}/${'x'.repeat(400)}`).join(':');
    const c = compact({ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${lower}`] });
    assert.equal(c?.cwd, SNAPSHOTS);
    assert.match(c?.options[0] ?? '', /^lowerdir=10\/x+:11\/x+:/);
  });

  it('does nothing for another type, one lower dir, or lower dirs with only / in common', () => {
    assert.equal(compact({ ...overlay(70), type: 'aufs' }), undefined);
    assert.equal(compact({ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=/${'a'.repeat(5000)}`] }), undefined);
    const apart = Array.from({ length: 70 }, (_, i) => `/d${i}/${'l'.repeat(60)}`).join(':');
    assert.equal(compact({ type: 'overlay', source: 'overlay', target: '', options: [`lowerdir=${apart}`] }), undefined);
  });
});
