/**
 * Rootfs mount specs are checked before anything is mounted (PROTOCOL §9.5): a bad one is an
 * InvalidArgument naming the mount, and nothing on disk changes. (Mounting itself needs root and
 * is covered end to end.)
 */
import assert from 'node:assert/strict';
import { ErrdefsError } from '../../../proto';
import { type MountSpec, validateMount } from '../../../shim/container/rootfs';

const OK: MountSpec = { type: 'overlay', source: 'overlay', target: '', options: ['workdir=/w', 'upperdir=/u', 'lowerdir=/l1:/l2', 'index=off'] };

function refused(m: Partial<MountSpec>, message: string, index = 0): void {
  const spec = { ...OK, ...m };
  assert.throws(
    () => validateMount(spec, index),
    (err: unknown) => err instanceof ErrdefsError && err.kind === 'invalidArgument' && err.message === `${message}: invalid argument`,
    JSON.stringify(m),
  );
}

describe('shim/container/rootfs: validateMount', () => {
  const accepted: [string, Partial<MountSpec>][] = [
    ['an overlay snapshot (containerd overlayfs snapshotter)', {}],
    ['a bind mount (native snapshotter)', { type: 'bind', source: '/var/lib/containerd/snapshots/5/fs', options: ['rbind', 'rw'] }],
    ['fuse.sshfs style types', { type: 'fuse.sshfs' }],
    ['types with + and -', { type: 'ext4-x+y' }],
    ['no options', { options: [] }],
    ['a relative target inside the rootfs', { target: 'var/lib' }],
    ['a target that only looks like ..', { target: 'a/../b' }],
    ['the rootfs itself', { target: '.' }],
    ['options with commas in values are passed through', { options: ['lowerdir=/a,b'] }],
  ];
  for (const [what, m] of accepted) it(`accepts ${what}`, () => validateMount({ ...OK, ...m }, 0));

  it('refuses an empty type', () => refused({ type: '' }, 'rootfs mount 0 ( overlay): invalid type ""'));
  it('refuses a type with a slash', () => refused({ type: 'a/b' }, 'rootfs mount 0 (a/b overlay): invalid type "a/b"'));
  it('refuses a type with a space', () => refused({ type: 'ext4 -o' }, 'rootfs mount 0 (ext4 -o overlay): invalid type "ext4 -o"'));
  it('refuses a type starting with a dash (a mount(8) option)', () => refused({ type: '-oremount' }, 'rootfs mount 0 (-oremount overlay): invalid type "-oremount"'));
  it('refuses an empty source', () => refused({ source: '' }, 'rootfs mount 0 (overlay ): invalid source'));
  it('refuses a source with NUL', () => refused({ source: '/a\0b' }, 'rootfs mount 0 (overlay /a\0b): invalid source'));
  it('refuses an absolute target', () => refused({ target: '/etc' }, 'rootfs mount 0 (overlay overlay): target "/etc" must be relative and inside the rootfs'));
  it('refuses a target escaping the rootfs', () => refused({ target: '../x' }, 'rootfs mount 0 (overlay overlay): target "../x" must be relative and inside the rootfs'));
  it('refuses a target escaping after normalization', () => refused({ target: 'a/../../x' }, 'rootfs mount 0 (overlay overlay): target "a/../../x" must be relative and inside the rootfs'));
  it('refuses a target of ..', () => refused({ target: '..' }, 'rootfs mount 0 (overlay overlay): target ".." must be relative and inside the rootfs'));
  it('refuses a target with NUL', () => refused({ target: 'a\0' }, 'rootfs mount 0 (overlay overlay): target "a\0" must be relative and inside the rootfs'));
  it('refuses an option with NUL', () => refused({ options: ['rw', 'x\0y'] }, 'rootfs mount 0 (overlay overlay): invalid option "x\0y"'));
  it('refuses an option with a newline', () => refused({ options: ['a\nb'] }, 'rootfs mount 0 (overlay overlay): invalid option "a\nb"'));
  it('names the mount by its index', () => refused({ type: '' }, 'rootfs mount 3 ( overlay): invalid type ""', 3));

  it('checks every spec when used as a forEach callback', () => {
    const specs: MountSpec[] = [OK, { ...OK, target: '/abs' }];
    assert.throws(() => specs.forEach(validateMount), /rootfs mount 1 /);
  });

  // Regression (found by this test, fixed in shim/container/rootfs.ts:34): `normalize(target).startsWith('..')` also refuses a
  // directory whose name merely begins with two dots.
  it('accepts a target directory named "..data" (inside the rootfs)', () => validateMount({ ...OK, target: '..data' }, 0));
});
