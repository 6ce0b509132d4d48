/**
 * Input validation of our shim daemon over ttrpc (run by hand: Create takes any bundle path, which
 * containerd never lets a test choose): container and exec ids, bundle paths and rootfs mount specs.
 * A bad one gets INVALID_ARGUMENT with a message naming the problem, and nothing on disk changes —
 * the bundle dir (listing, sizes, mtimes), the mount table — and the daemon keeps serving.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from 'ttrpc-ts';
import { OCI_PROCESS_TYPE_URL, packJson, type task as taskTypes } from '../../proto';
import { mountsUnder } from '../helpers/containerd';
import { type HandShim, startHandShim } from '../helpers/hand-shim';
import { type TaskClient, connectTask, rpcError } from '../helpers/shim-client';
import { exited, listDir, snapshotTree } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';

const PROCESS = { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['/bin/true'] };

/** The whole mount table (mount points), to prove a refused Create mounted nothing anywhere. */
function allMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter(Boolean).sort();
}

describe('reliability: input validation over ttrpc (ours, run by hand)', function () {
  this.timeout(60_000);
  let shim: HandShim;
  let task: TaskClient;
  let close: () => Promise<void>;
  let base: taskTypes.CreateTaskRequest;

  before(async function () {
    requireSystem(this, ['runc']);
    shim = await startHandShim(['/bin/sleep', '1000']);
    ({ task, close } = await connectTask(shim.bundle.socket));
    base = shim.createRequest(shim.bundle.id, shim.bundle.bundle);
  });
  after(async () => {
    await close?.();
    await shim?.stop();
  });

  /** Runs `call`, expecting INVALID_ARGUMENT matching `message`, with the bundle dir and mounts untouched. */
  async function refused(call: () => Promise<unknown>, message: RegExp, what: string): Promise<void> {
    const tree = snapshotTree(shim.bundle.dir);
    const mounts = allMounts();
    const err = await rpcError(call);
    assert.equal(err.code, Code.INVALID_ARGUMENT, `${what}: ${err.message}`);
    assert.match(err.message, message, what);
    assert.match(err.message, /: invalid argument$/, `${what}: containerd's class suffix`);
    assert.deepEqual(snapshotTree(shim.bundle.dir), tree, `${what}: nothing under the bundle dir changed`);
    assert.deepEqual(allMounts(), mounts, `${what}: nothing mounted`);
  }

  it('refuses bad container ids: path-like, too long, empty, odd characters', async () => {
    const cases: [string, RegExp][] = [
      ['../x', /invalid container id "\.\.\/x": must match/],
      ['a/b', /invalid container id "a\/b": must match/],
      ['x'.repeat(77), /invalid container id "x{77}": must be at most 76 characters \(got 77\)/],
      ['', /invalid container id "": must not be empty/],
      ['.hidden', /must match/],
      ['a..b', /must match/],
      ['nul\0id', /must match/],
      ['sp ace', /must match/],
    ];
    for (const [id, message] of cases) await refused(() => task.create({ ...base, id }), message, `id ${JSON.stringify(id)}`);
  });

  it('refuses bad bundle paths: relative, empty, with "..", "//" or NUL', async () => {
    const cases: [string, RegExp][] = [
      ['relative/bundle', /invalid bundle path "relative\/bundle": must be absolute/],
      ['', /invalid bundle path "": must not be empty/],
      [`${shim.bundle.bundle}/../../etc`, /must be normalized/],
      ['/tmp/../etc', /must be normalized/],
      [`${shim.bundle.dir}//${shim.bundle.id}`, /must be normalized/],
      ['/tmp/a\0b', /must not contain NUL/],
    ];
    for (const [bundle, message] of cases) await refused(() => task.create({ ...base, bundle }), message, `bundle ${JSON.stringify(bundle)}`);
  });

  // Regression (found by this test, fixed): Container.create (shim/container/container.ts) never checks that the bundle exists: saveOptions
  // fails inside it and the answer is UNKNOWN "ENOENT: no such file or directory, open '<bundle>/.options.json.<pid>.tmp'".
  it('refuses a bundle path that is not a directory, before writing anything', async () => {
    const missing = join(shim.bundle.dir, 'no-such-bundle');
    await refused(() => task.create({ ...base, bundle: missing }), /invalid bundle path/, 'a bundle that does not exist');
    assert.equal(existsSync(missing), false);
  });

  it('refuses bad rootfs mount specs before mounting any of them', async () => {
    const tmpfs = { type: 'tmpfs', source: 'tmpfs', target: '', options: ['size=1m'] };
    const cases: [taskTypes.CreateTaskRequest['rootfs'], RegExp][] = [
      [[{ ...tmpfs, type: 'bad type' }], /rootfs mount 0 \(bad type tmpfs\): invalid type "bad type"/],
      [[{ ...tmpfs, type: '' }], /rootfs mount 0 .*: invalid type ""/],
      [[{ ...tmpfs, type: 'ext4;reboot' }], /invalid type "ext4;reboot"/],
      [[{ ...tmpfs, target: '/etc' }], /target "\/etc" must be relative and inside the rootfs/],
      [[{ ...tmpfs, target: '../../etc' }], /target "\.\.\/\.\.\/etc" must be relative and inside the rootfs/],
      [[{ ...tmpfs, target: 'a/../../b' }], /must be relative and inside the rootfs/],
      [[{ ...tmpfs, source: '' }], /invalid source/],
      [[{ ...tmpfs, source: 'tmp\0fs' }], /invalid source/],
      [[{ ...tmpfs, options: ['size=1m', 'ro\0exec'] }], /invalid option/],
      [[{ ...tmpfs, options: ['ro\nexec'] }], /invalid option/],
      // the first is fine: it must not be mounted when the second is refused
      [[tmpfs, { ...tmpfs, target: '../escape' }], /rootfs mount 1 .*must be relative and inside the rootfs/],
    ];
    for (const [rootfs, message] of cases) await refused(() => task.create({ ...base, rootfs }), message, `mounts ${JSON.stringify(rootfs)}`);
  });

  // Regression (found by this test, fixed): mountRootfs (shim/container/rootfs.ts) mounts on join(rootfs, target), and mount(8) follows a
  // symlink in that path: a tmpfs lands on the host directory the link names (containerd 2.x resolves
  // targets with fs.RootPath, scoped to the rootfs).
  it('never mounts outside the rootfs through a symlink in it', async () => {
    const victim = mkdtempSync('/tmp/tsrunc-victim-');
    const rootfs = join(shim.bundle.bundle, 'rootfs');
    const link = join(rootfs, 'escape');
    // what an image layer mounted first could contain: a symlink pointing out of the rootfs
    symlinkSync(victim, link);
    const before = allMounts();
    try {
      await task.create({ ...base, id: 'symlinkescape', rootfs: [{ type: 'tmpfs', source: 'tmpfs', target: 'escape', options: ['size=1m'] }] }).then(
        () => undefined,
        () => undefined,
      );
      const escaped = mountsUnder(victim);
      assert.deepEqual(escaped, [], 'a mount target resolved through a symlink must stay inside the rootfs (containerd 2.x: fs.RootPath)');
    } finally {
      for (const m of mountsUnder(victim)) execFileSync('umount', ['-l', m]);
      rmSync(link, { force: true });
      // if the Create went through, a container runs: end it (its Delete unmounts what Create mounted)
      await task.kill({ id: 'symlinkescape', execId: '', signal: 9, all: true }).catch(() => undefined);
      await task.wait({ id: 'symlinkescape', execId: '' }, { timeout: 10_000 }).catch(() => undefined);
      await task.delete({ id: 'symlinkescape', execId: '' }).catch(() => undefined);
      for (const m of mountsUnder(victim)) execFileSync('umount', ['-l', m]);
      rmSync(victim, { recursive: true, force: true });
    }
    assert.deepEqual(allMounts().filter((m) => !before.includes(m)), [], 'nothing left mounted');
  });

  it('refuses bad exec ids on a running container: path-like, too long, empty — no pid file, nothing started', async () => {
    await task.create(base);
    await task.start({ id: base.id, execId: '' });
    const spec = packJson(OCI_PROCESS_TYPE_URL, PROCESS);
    const cases: [string, RegExp][] = [
      ['../x', /invalid exec id "\.\.\/x": must match/],
      ['a/b', /invalid exec id "a\/b": must match/],
      ['../../../../tmp/evil', /invalid exec id/],
      ['e'.repeat(77), /must be at most 76 characters \(got 77\)/],
      ['', /invalid exec id "": must not be empty/],
    ];
    for (const [execId, message] of cases) {
      await refused(() => task.exec({ id: base.id, execId, terminal: false, stdin: '', stdout: '', stderr: '', spec }), message, `exec id ${JSON.stringify(execId)}`);
    }
    await refused(
      () => task.exec({ id: base.id, execId: 'badspec', terminal: false, stdin: '', stdout: '', stderr: '', spec: { typeUrl: OCI_PROCESS_TYPE_URL, value: Buffer.from('{not json') } }),
      /exec badspec: invalid process spec/,
      'an exec spec that is not JSON',
    );
    assert.deepEqual(listDir(shim.bundle.bundle).filter((f) => f.endsWith('.pid') && f !== 'init.pid' && f !== 'shim.pid'), [], 'no exec pid file');
    assert.equal((await task.state({ id: base.id, execId: '' })).status, 2, 'the container runs on');
    assert.ok(!exited(shim.pid), 'the daemon serves on');
  });
});
