/**
 * Which cgroup a container is in (PROTOCOL §11.1): /proc/<pid>/cgroup against the mount table,
 * for separate and comounted v1 hierarchies, a hybrid host (v1 authoritative), a unified host, and
 * the live machine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, parseCgroupMounts, parseProcCgroup, resolveCgroup, systemHost, v1Paths } from '../../../shim/cgroups/paths';
import { isUnified } from '../../../shim/cgroups/join';
import { FIXTURES, V1_PID, V2_PID, fixtureHost } from '../../fixtures/cgroups/host';
import { skipBecause } from '../../helpers/system';

const COMOUNTED = [
  '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory',
  '32 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio',
].join('\n');

describe('shim/cgroups/paths', () => {
  it('parses /proc/<pid>/cgroup lines, comounted controllers and the cgroup2 line', () => {
    assert.deepEqual(parseProcCgroup('4:cpu,cpuacct:/k8s/a\n1:name=systemd:/x\n0::/k8s/a\n'), [
      { hierarchy: 4, controllers: ['cpu', 'cpuacct'], path: '/k8s/a' },
      { hierarchy: 1, controllers: ['name=systemd'], path: '/x' },
      { hierarchy: 0, controllers: [], path: '/k8s/a' },
    ]);
  });

  it('keeps only cgroup v1 mounts from mountinfo, with their controllers, root and mount point', () => {
    const mounts = parseCgroupMounts(COMOUNTED);
    assert.deepEqual(
      mounts.map((m) => m.mountPoint),
      ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/net_cls,net_prio'],
    );
    assert.deepEqual(mounts[1]?.controllers, ['cpu', 'cpuacct']);
    assert.equal(mounts[1]?.root, '/');
  });

  it('unescapes mount points (\\040 is a space)', () => {
    const [m] = parseCgroupMounts('40 31 0:37 / /mnt/my\\040cgroups/memory rw - cgroup cgroup rw,memory');
    assert.equal(m?.mountPoint, '/mnt/my cgroups/memory');
  });

  it('resolves comounted cpu,cpuacct to the one directory of that hierarchy', () => {
    const paths = v1Paths('3:memory:/ns/c\n2:cpu,cpuacct:/ns/c\n0::/ns/c\n', COMOUNTED);
    assert.equal(paths.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct/ns/c');
    assert.equal(paths.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct/ns/c');
    assert.equal(paths.get('memory'), '/sys/fs/cgroup/memory/ns/c');
  });

  it('joins a path below a mount that exposes a sub-tree (bind mount of a cgroup) relative to its root', () => {
    const mountinfo = '31 25 0:28 /ns /cg/memory rw - cgroup cgroup rw,memory';
    assert.equal(v1Paths('4:memory:/ns/c\n', mountinfo).get('memory'), '/cg/memory/c');
  });

  it('resolves a v1 (hybrid) container: one directory per mounted controller, the cgroup2 line ignored', () => {
    const paths = resolveCgroup(V1_PID, fixtureHost());
    assert.equal(paths.version, 1);
    if (paths.version !== 1) return;
    for (const c of ['cpu', 'cpuacct', 'memory', 'pids', 'blkio', 'hugetlb', 'rdma']) {
      assert.equal(paths.controllers.get(c), join(FIXTURES, 'v1', c, 'tsr', 'c1'), c);
    }
    assert.equal(paths.controllers.has(''), false);
    assert.equal(new Set(cgroupDirs(paths)).size, cgroupDirs(paths).length, 'each directory once');
  });

  it('resolves a v2 (unified) container from its 0:: line under the unified root', () => {
    const paths = resolveCgroup(V2_PID, fixtureHost({ unified: true }));
    assert.deepEqual(paths, { version: 2, dir: join(FIXTURES, 'v2', 'tsr', 'c1') });
  });

  it('fails for no pid, a process that is gone, or a process in no mounted hierarchy', () => {
    assert.throws(() => resolveCgroup(0, fixtureHost()), /no process/);
    assert.throws(() => resolveCgroup(999999, fixtureHost()), /ENOENT/);
    assert.throws(() => resolveCgroup(V1_PID, fixtureHost({ mountinfo: '' })), /no mounted cgroup v1 hierarchy/);
    assert.throws(() => resolveCgroup(V1_PID, fixtureHost({ unified: true, procRoot: join(FIXTURES, 'nowhere') })), /ENOENT/);
  });

  it('resolves this process on the live host into directories that exist', function () {
    if (isUnified()) skipBecause(this, 'cgroup v2 unified host: this reads the live v1 hierarchy (v2 is covered on fixture trees)');
    const paths = resolveCgroup(process.pid, systemHost());
    assert.equal(paths.version, 1);
    if (paths.version !== 1) return;
    const memory = paths.controllers.get('memory');
    assert.ok(memory?.startsWith('/sys/fs/cgroup/memory'), memory);
    assert.ok(readFileSync(join(memory ?? '', 'memory.usage_in_bytes'), 'utf8').length > 0);
  });
});
