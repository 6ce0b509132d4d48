import assert from 'node:assert/strict';
import { adoptSpec, cgroupsPathOf, generateSpec, mergeEnv } from '../../../supervisor/shims/spec';
import { KeyedQueue } from '../../../supervisor/util/keyed-queue';

describe('supervisor/shims/spec: config.json for a task', () => {
  it('generates containerd default spec with our cgroup, the command, env and cwd', () => {
    const spec = generateSpec({ id: 'abc', namespace: 'ns', rootfs: '/r', args: ['/bin/sh', '-c', 'x'], env: ['A=1', 'PATH=/bin'], cwd: '' });
    assert.deepEqual(spec.root, { path: '/r', readonly: false });
    assert.deepEqual(spec.process?.args, ['/bin/sh', '-c', 'x']);
    assert.deepEqual(spec.process?.env, ['PATH=/bin', 'A=1']);
    assert.equal(spec.process?.cwd, '/');
    assert.equal(spec.linux?.cgroupsPath, '/tsrunc/ns/abc');
    const types = (spec.linux?.['namespaces'] as { type: string }[]).map((n) => n.type);
    for (const t of ['pid', 'mount', 'ipc', 'uts']) assert.ok(types.includes(t), t);
    assert.throws(() => generateSpec({ id: 'a', namespace: 'n', rootfs: '/r', args: [], env: [], cwd: '' }), { kind: 'invalidArgument' });
  });

  it('adopts a bundle spec: root.path made absolute, overrides applied, its own cgroup kept', () => {
    const spec = adoptSpec({ root: { path: 'rootfs' }, process: { args: ['a'], env: ['X=1'], cwd: '/w' }, linux: { cgroupsPath: '/mine' } }, { bundleDir: '/b', id: 'i', namespace: 'n', args: [], env: ['X=2'], cwd: '' });
    assert.deepEqual([spec.root?.path, spec.process?.args, spec.process?.env, spec.process?.cwd, spec.linux?.cgroupsPath], ['/b/rootfs', ['a'], ['X=2'], '/w', '/mine']);
    assert.equal(adoptSpec({ root: { path: '/abs' }, process: { args: ['a'] } }, { bundleDir: '/b', id: 'i', namespace: 'n', args: ['b'], env: [], cwd: '' }).linux?.cgroupsPath, cgroupsPathOf('n', 'i'));
    assert.throws(() => adoptSpec({ process: { args: ['a'] } }, { bundleDir: '/b', id: 'i', namespace: 'n', args: [], env: [], cwd: '' }), /no root\.path/);
    assert.throws(() => adoptSpec({ root: { path: 'r' } }, { bundleDir: '/b', id: 'i', namespace: 'n', args: [], env: [], cwd: '' }), /no process\.args/);
  });

  it('merges KEY=VALUE lists, later keys winning in place', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4', 'A']), ['A', 'B=3', 'C=4']);
  });
});

describe('supervisor/util/keyed-queue', () => {
  it('runs operations of one key one at a time, in order, other keys alongside; a failure does not block the next', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const op = (name: string, ms: number, fail = false) => async (): Promise<string> => {
      log.push(`${name}>`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`<${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const a1 = q.run('a', op('a1', 20, true));
    const a2 = q.run('a', op('a2', 1));
    const b1 = q.run('b', op('b1', 5));
    await assert.rejects(a1, /a1/);
    assert.equal(await a2, 'a2');
    assert.equal(await b1, 'b1');
    assert.deepEqual(log, ['a1>', 'b1>', '<b1', '<a1', 'a2>', '<a2']);
    await q.idle();
    assert.equal(q.busy('a'), false);
  });
});
