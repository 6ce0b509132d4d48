import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRICS_V1_TYPE_URL, METRICS_V2_TYPE_URL, cgroupsV1, cgroupsV2, u64 } from '../../../proto/index';
import { parseArgs } from '../../../supervisor/cli/args';
import { RESOURCE_FLAGS, parseSize, resourcesFrom } from '../../../supervisor/cli/resources';
import { cpuPercent, humanBytes } from '../../../supervisor/cli/stats-format';
import { checkLimits, linuxResources, mergeLimits, withLimits } from '../../../supervisor/shims/resources';
import { figuresOf, hostCpu } from '../../../supervisor/tasks/stats';

describe('supervisor resources: limit flags, the OCI fragment, stats figures', () => {
  it('parses docker sizes (powers of 1024) and refuses the rest', () => {
    assert.equal(parseSize('64m'), 64 * 1024 * 1024);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('1048576'), 1048576);
    assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
    assert.throws(() => parseSize('lots'), /invalid size: lots/);
  });

  it('turns --memory/--cpus/--pids-limit into Resources (absent flags stay absent)', () => {
    const r = resourcesFrom(parseArgs(['--memory', '64m', '--cpus', '1.5', '--pids-limit', '-1'], RESOURCE_FLAGS, false));
    assert.deepEqual([Number(r?.memory), Number(r?.nanoCpus), Number(r?.pidsLimit)], [64 * 1024 * 1024, 1_500_000_000, -1]);
    const only = resourcesFrom(parseArgs(['--cpus', '2'], RESOURCE_FLAGS, false));
    assert.equal(only?.memory, null);
    assert.equal(resourcesFrom(parseArgs([], RESOURCE_FLAGS, false)), null);
    assert.throws(() => resourcesFrom(parseArgs(['--cpus', '0'], RESOURCE_FLAGS, false)), /invalid --cpus/);
  });

  it('writes memory.limit, cpu quota over a 100 ms period and pids.limit, keeping the rest of linux.resources', () => {
    assert.deepEqual(linuxResources({ memory: 1 << 26, nanoCpus: 500_000_000, pidsLimit: 50 }), {
      memory: { limit: 1 << 26 },
      cpu: { quota: 50_000, period: 100_000 },
      pids: { limit: 50 },
    });
    const spec = withLimits({ linux: { resources: { devices: [{ allow: false }], memory: { swappiness: 0 } } } }, { memory: 1 << 26 });
    assert.deepEqual(spec.linux?.['resources'], { devices: [{ allow: false }], memory: { swappiness: 0, limit: 1 << 26 } });
    assert.deepEqual(mergeLimits({ memory: 1, pidsLimit: 2 }, { pidsLimit: 3 }), { memory: 1, nanoCpus: undefined, pidsLimit: 3 });
    assert.throws(() => checkLimits({ memory: 1024 }), /below the minimum of 6 MiB/);
    assert.throws(() => checkLimits({ pidsLimit: 0 }), /must be positive/);
    assert.throws(() => checkLimits({ nanoCpus: 1_000_000 }), /below the minimum/);
  });

  it('reduces v1 and v2 metrics to docker figures (usage minus inactive file, unlimited → host memory)', () => {
    const host = { systemCpuNs: 10n, onlineCpus: 2 };
    const v1 = cgroupsV1().Metrics.encode(
      cgroupsV1().Metrics.create({
        pids: { current: u64(3), limit: u64(50) },
        cpu: { usage: { total: u64(1234) } },
        memory: { totalInactiveFile: u64(100), usage: { usage: u64(1100), limit: u64(64 * 1024 * 1024) } },
      }),
    ).finish();
    const f1 = figuresOf({ typeUrl: METRICS_V1_TYPE_URL, value: v1 }, new Date(0), host);
    assert.deepEqual([f1.cpuUsageNs, f1.memoryUsage, f1.memoryLimit, f1.pidsCurrent, f1.pidsLimit], [1234n, 1000n, 64n * 1024n * 1024n, 3n, 50n]);
    const unlimited = cgroupsV1().Metrics.encode(cgroupsV1().Metrics.create({ memory: { usage: { usage: u64(5), limit: u64(9223372036854771712n) } } })).finish();
    assert.ok(figuresOf({ typeUrl: METRICS_V1_TYPE_URL, value: unlimited }, new Date(0), host).memoryLimit < 9223372036854771712n);
    const v2 = cgroupsV2().Metrics.encode(cgroupsV2().Metrics.create({ cpu: { usageUsec: u64(7) }, memory: { usage: u64(10), inactiveFile: u64(4), usageLimit: u64(1000) }, pids: { current: u64(1) } })).finish();
    const f2 = figuresOf({ typeUrl: METRICS_V2_TYPE_URL, value: v2 }, new Date(0), host);
    assert.deepEqual([f2.cpuUsageNs, f2.memoryUsage, f2.memoryLimit, f2.pidsCurrent, f2.pidsLimit], [7000n, 6n, 1000n, 1n, 0n]);
    assert.throws(() => figuresOf({ typeUrl: 'other', value: new Uint8Array() }, new Date(0), host), /unknown type/);
  });

  it('reads the host CPU time from /proc/stat and computes docker CPU %', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsrunc-stat-'));
    try {
      writeFileSync(join(dir, 'stat'), 'cpu  100 0 100 700 50 25 25 9 0 0\ncpu0 1 1 1 1 1 1 1\ncpu1 1 1 1 1 1 1 1\nintr 5\n');
      assert.deepEqual(hostCpu(join(dir, 'stat')), { systemCpuNs: 10_000_000_000n, onlineCpus: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const at = (cpu: number, system: number): { cpuUsageNs: ReturnType<typeof u64>; systemCpuNs: ReturnType<typeof u64>; onlineCpus: number } => ({ cpuUsageNs: u64(cpu), systemCpuNs: u64(system), onlineCpus: 2 });
    assert.equal(cpuPercent(at(0, 0), at(250, 1000)), 50);
    assert.equal(cpuPercent(undefined, at(250, 1000)), 0);
    assert.equal(humanBytes(64 * 1024 * 1024), '64.0MiB');
    assert.equal(humanBytes(512), '512B');
  });
});
