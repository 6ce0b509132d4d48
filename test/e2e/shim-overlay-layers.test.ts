/**
 * A rootfs of many overlay layers, as containerd's overlayfs snapshotter gives an image of some
 * seventy: its mount options pass one page, which mount(2) copies no more of, so our daemon (run
 * by hand: Create takes any mounts) must give the lower directories relative to their parent, as
 * containerd's own mount code does. The container then sees every layer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder } from '../helpers/containerd';
import { type HandShim, startHandShim } from '../helpers/hand-shim';
import { sharedRootfs } from '../helpers/rootfs';
import { type TaskClient, connectTask } from '../helpers/shim-client';
import { requireSystem } from '../helpers/system';

const LAYERS = 70;

describe('rootfs: an overlay of 70 layers (ours, run by hand)', function () {
  this.timeout(60_000);
  let shim: HandShim;
  let task: TaskClient;
  let close: () => Promise<void>;
  let root: string;

  before(async function () {
    requireSystem(this, ['runc']);
    root = mkdtempSync('/tmp/tsrunc-layers-');
    shim = await startHandShim(['/bin/sh', '-c', `for i in $(seq 1 ${LAYERS}); do test -e /layer$i || exit 1; done`]);
    ({ task, close } = await connectTask(shim.bundle.socket));
  });
  after(async () => {
    await close?.();
    await shim?.stop();
    for (const m of mountsUnder(root).reverse()) execFileSync('umount', [m]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('mounts them (lower dirs relative to the snapshots directory), runs the container on them, unmounts at Delete', async () => {
    const snapshots = join(root, 'var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots');
    const layer = (n: number): string => join(snapshots, String(n), 'fs');
    // layer 1: the busybox rootfs; then one file per layer
    mkdirSync(join(snapshots, '1'), { recursive: true });
    execFileSync('cp', ['-a', sharedRootfs(), layer(1)]);
    writeFileSync(join(layer(1), 'layer1'), '');
    for (let n = 2; n <= LAYERS; n++) {
      mkdirSync(layer(n), { recursive: true });
      writeFileSync(join(layer(n), `layer${n}`), '');
    }
    const lowerdir = `lowerdir=${Array.from({ length: LAYERS }, (_, i) => layer(LAYERS - i)).join(':')}`;
    assert.ok(lowerdir.length > 4096, `${lowerdir.length} bytes of options: more than a page`);

    const bundle = shim.bundle.bundle;
    const config = join(bundle, 'config.json');
    const spec = JSON.parse(readFileSync(config, 'utf8')) as { root: { path: string; readonly: boolean } };
    spec.root = { path: 'rootfs', readonly: true };
    writeFileSync(config, JSON.stringify(spec));

    const id = shim.bundle.id;
    await task.create({ ...shim.createRequest(id, bundle), rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: [lowerdir] }] });
    assert.deepEqual(mountsUnder(bundle), [join(bundle, 'rootfs')]);
    await task.start({ id, execId: '' });
    assert.equal((await task.wait({ id, execId: '' })).exitStatus, 0, 'the container saw all 70 layers');
    await task.delete({ id, execId: '' });
    assert.deepEqual(mountsUnder(bundle), [], 'unmounted at Delete');
  });
});
