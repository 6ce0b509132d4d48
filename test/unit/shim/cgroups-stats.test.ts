/**
 * Stats (PROTOCOL §7.15, §11.2, §11.3): the fixture cgroups packed and decoded back as containerd
 * decodes them — every v1 and v2 field from its file and key, "max" as 0 (v1 pids) or 2^64−1 (v2,
 * round-tripping exactly), missing files left out — and NotFound for containers without a cgroup.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_V1_TYPE_URL, METRICS_V2_TYPE_URL, isU64Max, unpackAnyAs } from '../../../proto';
import { isUnified } from '../../../shim/cgroups/join';
import { CgroupStats } from '../../../shim/cgroups/stats';
import { FIXTURES, PARTITIONS, V1_PID, V2_PID, fields, fixtureHost, n, scratchCopy, v1Mountinfo } from '../../fixtures/cgroups/host';
import { skipBecause } from '../../helpers/system';

const MEMORY_STAT_V1: Record<string, bigint> = {
  cache: 1101n, rss: 1102n, rssHuge: 1103n, mappedFile: 1104n, dirty: 1105n, writeback: 1106n, pgPgIn: 1107n, pgPgOut: 1108n,
  pgFault: 1109n, pgMajFault: 1110n, inactiveAnon: 1111n, activeAnon: 1112n, inactiveFile: 1113n, activeFile: 1114n, unevictable: 1115n,
  hierarchicalMemoryLimit: 67108864n, hierarchicalSwapLimit: 9223372036854771712n, totalCache: 2101n, totalRss: 2102n, totalRssHuge: 2103n,
  totalMappedFile: 2104n, totalDirty: 2105n, totalWriteback: 2106n, totalPgPgIn: 2107n, totalPgPgOut: 2108n, totalPgFault: 2109n,
  totalPgMajFault: 2110n, totalInactiveAnon: 2111n, totalActiveAnon: 2112n, totalInactiveFile: 2113n, totalActiveFile: 2114n, totalUnevictable: 2115n,
};

const MEMORY_STAT_V2: Record<string, bigint> = {
  anon: 101n, file: 102n, kernelStack: 103n, slab: 104n, sock: 105n, shmem: 106n, fileMapped: 107n, fileDirty: 108n, fileWriteback: 109n,
  anonThp: 110n, inactiveAnon: 111n, activeAnon: 112n, inactiveFile: 113n, activeFile: 114n, unevictable: 115n, slabReclaimable: 116n,
  slabUnreclaimable: 117n, pgfault: 118n, pgmajfault: 119n, workingsetRefault: 120n, workingsetActivate: 121n, workingsetNodereclaim: 122n,
  pgrefill: 123n, pgscan: 124n, pgsteal: 125n, pgactivate: 126n, pgdeactivate: 127n, pglazyfree: 128n, pglazyfreed: 129n,
  thpFaultAlloc: 130n, thpCollapseAlloc: 131n,
};

async function v1Stats(stats: CgroupStats, id = 'c1', pid = V1_PID) {
  return unpackAnyAs(await stats.stats({ id, pid }), METRICS_V1_TYPE_URL);
}

describe('shim/cgroups/stats', () => {
  describe('cgroup v1 (fixture tree)', () => {
    const stats = new CgroupStats({ host: fixtureHost(), partitions: PARTITIONS });
    before(() => stats.track('c1', V1_PID));

    it('packs io.containerd.cgroups.v1.Metrics', async () => {
      assert.equal((await stats.stats({ id: 'c1', pid: V1_PID })).typeUrl, METRICS_V1_TYPE_URL);
    });

    it('pids: current, and "max" as limit 0', async () => {
      const m = await v1Stats(stats);
      assert.deepEqual(fields(m.pids, ['current', 'limit']), { current: 3n, limit: 0n });
    });

    it('cpu: cpuacct usage (total, per cpu, user/kernel ticks × 10⁷ ns) and cpu.stat throttling', async () => {
      const cpu = (await v1Stats(stats)).cpu;
      assert.deepEqual(fields(cpu?.usage, ['total', 'user', 'kernel']), { total: 1234567890n, user: 870000000n, kernel: 210000000n });
      assert.deepEqual(cpu?.usage?.perCpu?.map(n), [600000000n, 634567890n]);
      assert.deepEqual(fields(cpu?.throttling, ['periods', 'throttledPeriods', 'throttledTime']), { periods: 120n, throttledPeriods: 7n, throttledTime: 350000000n });
    });

    it('memory: every memory.stat key into its MemoryStat field', async () => {
      const memory = (await v1Stats(stats)).memory;
      assert.deepEqual(fields(memory, Object.keys(MEMORY_STAT_V1)), MEMORY_STAT_V1);
    });

    it('memory: usage / swap (memsw) / kernel (kmem) entries; kernel_tcp present with zeros when its files are missing', async () => {
      const memory = (await v1Stats(stats)).memory;
      const entry = ['limit', 'usage', 'max', 'failcnt'];
      assert.deepEqual(fields(memory?.usage, entry), { limit: 67108864n, usage: 3001n, max: 3002n, failcnt: 3003n });
      assert.deepEqual(fields(memory?.swap, entry), { limit: 9223372036854771712n, usage: 4001n, max: 4002n, failcnt: 4003n });
      assert.deepEqual(fields(memory?.kernel, entry), { limit: 9223372036854771712n, usage: 5001n, max: 5002n, failcnt: 5003n });
      assert.ok(memory?.kernelTcp, 'present: ctr dereferences the entries');
      assert.deepEqual(fields(memory.kernelTcp, entry), { limit: 0n, usage: 0n, max: 0n, failcnt: 0n });
    });

    it('memory_oom_control from memory.oom_control', async () => {
      const oom = (await v1Stats(stats)).memoryOomControl;
      assert.deepEqual(fields(oom, ['oomKillDisable', 'underOom', 'oomKill']), { oomKillDisable: 0n, underOom: 0n, oomKill: 2n });
    });

    it('blkio: the throttle files when the CFQ files are absent, with device names, skipping Total lines', async () => {
      const blkio = (await v1Stats(stats)).blkio;
      const serviced = blkio?.ioServicedRecursive?.map((e) => [e.op, e.device, n(e.major), n(e.minor), n(e.value)]);
      assert.deepEqual(serviced, [
        ['Read', '/dev/vda', 254n, 0n, 40n],
        ['Write', '/dev/vda', 254n, 0n, 12n],
        ['Sync', '/dev/vda', 254n, 0n, 50n],
        ['Async', '/dev/vda', 254n, 0n, 2n],
        ['Discard', '/dev/vda', 254n, 0n, 0n],
        ['Total', '/dev/vda', 254n, 0n, 52n],
      ]);
      assert.equal(n(blkio?.ioServiceBytesRecursive?.[0]?.value), 1638400n);
      assert.equal(blkio?.sectorsRecursive?.length ?? 0, 0);
    });

    it('blkio: the *_recursive files on a CFQ kernel (op-less lines too), throttle files ignored', async () => {
      const cfq = new CgroupStats({ host: fixtureHost(), partitions: PARTITIONS });
      cfq.track('cfq', V1_PID);
      const paths = cfq.paths('cfq');
      assert.equal(paths?.version, 1);
      if (paths?.version !== 1) return;
      (paths.controllers as Map<string, string>).set('blkio', join(FIXTURES, 'v1', 'blkio', 'tsr', 'cfq'));
      const blkio = (await v1Stats(cfq, 'cfq')).blkio;
      assert.equal(blkio?.ioServicedRecursive?.length, 10);
      const sdb = blkio?.ioServicedRecursive?.[5];
      assert.deepEqual([sdb?.device, sdb?.op, n(sdb?.minor)], ['/dev/sdb', 'Read', 16n]);
      assert.deepEqual(blkio?.sectorsRecursive?.map((e) => [e.op, e.device, n(e.value)]), [['', '/dev/sda', 240n]]);
      assert.deepEqual(blkio?.ioTimeRecursive?.map((e) => n(e.value)), [77n]);
      assert.equal(blkio?.ioMergedRecursive?.length, 5);
    });

    it('hugetlb: one entry per page size, in /sys/kernel/mm/hugepages order; rdma with max as 2^32−1', async () => {
      const m = await v1Stats(stats);
      assert.deepEqual(
        m.hugetlb?.map((h) => [h.pagesize, n(h.usage), n(h.max), n(h.failcnt)]),
        [
          ['1GB', 7001n, 7002n, 7003n],
          ['2MB', 6001n, 6002n, 6003n],
        ],
      );
      assert.deepEqual(m.rdma?.current?.map((e) => [e.device, e.hcaHandles, e.hcaObjects]), [['mlx4_0', 2, 2000], ['ocrdma1', 3, 0]]);
      assert.deepEqual(m.rdma?.limit?.map((e) => [e.device, e.hcaHandles, e.hcaObjects]), [['mlx4_0', 2, 2000], ['ocrdma1', 0xffffffff, 0xffffffff]]);
    });

    it('leaves out controllers that are not mounted (only memory here), keeping cpu with zeros as Go does', async () => {
      const mountinfo = v1Mountinfo().split('\n').filter((l) => !l.includes(' - cgroup cgroup ') || l.endsWith('rw,memory')).join('\n');
      const only = new CgroupStats({ host: fixtureHost({ mountinfo }), partitions: PARTITIONS });
      only.track('c1', V1_PID);
      const m = await v1Stats(only);
      assert.equal(m.pids, null);
      assert.equal(m.blkio, null);
      assert.deepEqual(m.hugetlb, []);
      assert.equal(n(m.cpu?.usage?.total), 0n);
      assert.equal(n(m.memory?.usage?.limit), 67108864n);
    });
  });

  describe('cgroup v2 (fixture tree)', () => {
    const stats = new CgroupStats({ host: fixtureHost({ unified: true }) });
    const get = async () => unpackAnyAs(await stats.stats({ id: 'c1', pid: V2_PID }), METRICS_V2_TYPE_URL);
    before(() => stats.track('c1', V2_PID));

    it('packs io.containerd.cgroups.v2.Metrics', async () => {
      assert.equal((await stats.stats({ id: 'c1', pid: V2_PID })).typeUrl, METRICS_V2_TYPE_URL);
    });

    it('pids and cpu.stat; pids.max "max" is 2^64−1 and round-trips exactly', async () => {
      const m = await get();
      assert.equal(n(m.pids?.current), 4n);
      assert.equal(n(m.pids?.limit), (1n << 64n) - 1n);
      assert.ok(isU64Max(m.pids?.limit));
      const cpu = ['usageUsec', 'userUsec', 'systemUsec', 'nrPeriods', 'nrThrottled', 'throttledUsec'];
      assert.deepEqual(fields(m.cpu, cpu), { usageUsec: 5123456n, userUsec: 4000001n, systemUsec: 1123455n, nrPeriods: 240n, nrThrottled: 12n, throttledUsec: 654321n });
    });

    it('memory: memory.stat keys into fields 1–31, usage and limits (swap "max" → 2^64−1)', async () => {
      const memory = (await get()).memory;
      assert.deepEqual(fields(memory, Object.keys(MEMORY_STAT_V2)), MEMORY_STAT_V2);
      assert.deepEqual(fields(memory, ['usage', 'usageLimit', 'swapUsage']), { usage: 2867200n, usageLimit: 67108864n, swapUsage: 0n });
      assert.ok(isU64Max(memory?.swapLimit));
    });

    it('memory.events, io.stat per device, hugetlb per page size, rdma', async () => {
      const m = await get();
      assert.deepEqual(fields(m.memoryEvents, ['low', 'high', 'max', 'oom', 'oomKill']), { low: 0n, high: 0n, max: 9n, oom: 2n, oomKill: 1n });
      assert.deepEqual(
        m.io?.usage?.map((e) => [n(e.major), n(e.minor), n(e.rbytes), n(e.wbytes), n(e.rios), n(e.wios)]),
        [
          [254n, 0n, 1638400n, 49152n, 40n, 12n],
          [8n, 16n, 4096n, 0n, 1n, 0n],
        ],
      );
      assert.deepEqual(m.hugetlb?.map((h) => [h.pagesize, n(h.current), isU64Max(h.max) ? 'max' : n(h.max)]), [['2MB', 2097152n, 'max'], ['1GB', 0n, 1073741824n]]);
      assert.deepEqual(m.rdma?.limit?.map((e) => [e.device, e.hcaHandles, e.hcaObjects]), [['mlx4_0', 0xffffffff, 0xffffffff]]);
    });

    it('reads cpu.stat / memory.stat only for controllers in cgroup.controllers, and no memory_events without the file', async () => {
      const { dir, cleanup } = scratchCopy('v2/tsr/c1');
      try {
        writeFileSync(join(dir, 'cgroup.controllers'), 'pids\n');
        rmSync(join(dir, 'memory.events'));
        const host = { ...fixtureHost({ unified: true }), procCgroup: () => '0::/cg\n', unifiedRoot: join(dir, '..') };
        const s = new CgroupStats({ host });
        s.track('x', 1);
        const m = unpackAnyAs(await s.stats({ id: 'x', pid: 1 }), METRICS_V2_TYPE_URL);
        assert.equal(n(m.cpu?.usageUsec), 0n);
        assert.equal(n(m.memory?.anon), 0n);
        assert.equal(n(m.memory?.usageLimit), 67108864n, 'memory.max is read whatever the controllers');
        assert.equal(m.memoryEvents, null);
      } finally {
        cleanup();
      }
    });
  });

  describe('containers without a cgroup: NotFound "cgroup does not exist"', () => {
    const notFound = { name: 'ErrdefsError', kind: 'notFound', message: 'cgroup does not exist: not found' };

    it('an id never tracked, and one forgotten after delete', async () => {
      const stats = new CgroupStats({ host: fixtureHost(), partitions: PARTITIONS });
      await assert.rejects(stats.stats({ id: 'nope', pid: V1_PID }), notFound);
      stats.track('c1', V1_PID);
      await stats.stats({ id: 'c1', pid: V1_PID });
      stats.forget('c1');
      await assert.rejects(stats.stats({ id: 'c1', pid: V1_PID }), notFound);
    });

    it('a cgroup whose directories were removed (runc delete)', async () => {
      const { dir, cleanup } = scratchCopy('v2/tsr/c1');
      try {
        const host = { ...fixtureHost({ unified: true }), procCgroup: () => '0::/cg\n', unifiedRoot: join(dir, '..') };
        const stats = new CgroupStats({ host });
        stats.track('x', 1);
        await stats.stats({ id: 'x', pid: 1 });
        rmSync(dir, { recursive: true });
        await assert.rejects(stats.stats({ id: 'x', pid: 1 }), notFound);
      } finally {
        cleanup();
      }
    });

    it('a cgroup not resolvable at Create is resolved at the first Stats, or NotFound while it still is not', async () => {
      let visible = false;
      const base = fixtureHost();
      const stats = new CgroupStats({ host: { ...base, procCgroup: (pid) => (visible ? base.procCgroup(pid) : '') }, partitions: PARTITIONS });
      assert.equal(stats.track('c1', V1_PID), undefined);
      assert.equal(stats.track('c0', 0), undefined);
      await assert.rejects(stats.stats({ id: 'c1', pid: V1_PID }), notFound);
      visible = true;
      assert.equal(n((await v1Stats(stats)).memory?.usage?.limit), 67108864n);
      await assert.rejects(stats.stats({ id: 'c0', pid: 0 }), notFound);
    });
  });

  it('reads this process’s own cgroup on the live v1 host', async function () {
    if (isUnified()) skipBecause(this, 'cgroup v2 unified host: this reads the live v1 hierarchy (v2 is covered on fixture trees)');
    const stats = new CgroupStats();
    stats.track('self', process.pid);
    const m = await v1Stats(stats, 'self', process.pid);
    assert.ok(n(m.memory?.usage?.usage) > 0n, 'memory usage');
    assert.ok(n(m.cpu?.usage?.total) > 0n, 'cpu usage');
    assert.ok((m.cpu?.usage?.perCpu?.length ?? 0) >= 1, 'per-cpu usage');
  });
});
