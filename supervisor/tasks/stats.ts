/**
 * One stats sample of a container: the shim's Stats (cgroup metrics in an Any, v1
 * `io.containerd.cgroups.v1.Metrics` or v2) reduced to the figures `tsrunc stats` shows — as docker
 * computes them — beside the host's CPU time from /proc/stat, so that a client can turn two samples
 * into a CPU percentage: (Δ container CPU / Δ host CPU) × online CPUs × 100.
 *
 *   memory usage = usage − inactive file cache (v1: total_inactive_file, v2: inactive_file)
 *   memory limit = the cgroup's limit, or the host's memory when that is lower (unlimited)
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ErrdefsError } from '../../proto/errdefs';
import { METRICS_V1_TYPE_URL, METRICS_V2_TYPE_URL, cgroupsV1, cgroupsV2, toBigInt, type wellKnown } from '../../proto/index';
import type { Long } from '../../proto/long';

/** The figures of one sample. */
export interface StatsFigures {
  readonly read: Date;
  readonly cpuUsageNs: bigint;
  readonly systemCpuNs: bigint;
  readonly onlineCpus: number;
  readonly memoryUsage: bigint;
  readonly memoryLimit: bigint;
  readonly pidsCurrent: bigint;
  /** 0 = unlimited. */
  readonly pidsLimit: bigint;
}

/** USER_HZ: the unit of /proc/stat (100 on every Linux port we run on). */
const CLOCK_TICKS = 100n;

/** The host's CPU time so far (all CPUs, every state), ns; and how many CPUs are online. */
export function hostCpu(procStat = '/proc/stat'): { systemCpuNs: bigint; onlineCpus: number } {
  const text = readFileSync(procStat, 'utf8');
  const first = text.split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq (steal and guest are left out, as docker does)
  const ticks = first
    .trim()
    .split(/\s+/)
    .slice(1, 8)
    .reduce((sum, f) => sum + BigInt(f), 0n);
  const online = text.split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
  return { systemCpuNs: (ticks * 1_000_000_000n) / CLOCK_TICKS, onlineCpus: online > 0 ? online : cpus().length };
}

function big(v: Long | number | null | undefined): bigint {
  return toBigInt(v);
}

function cappedLimit(limit: bigint): bigint {
  const host = BigInt(totalmem());
  return limit === 0n || limit > host ? host : limit;
}

/** The figures of the shim's metrics Any; FailedPrecondition for a type we cannot read. */
export function figuresOf(metrics: wellKnown.Any.$Properties | null | undefined, at = new Date(), host = hostCpu()): StatsFigures {
  const typeUrl = metrics?.typeUrl ?? '';
  const value = metrics?.value ?? new Uint8Array();
  if (typeUrl.endsWith(METRICS_V1_TYPE_URL)) {
    const m = cgroupsV1().Metrics.decode(value);
    const usage = big(m.memory?.usage?.usage);
    const inactive = big(m.memory?.totalInactiveFile);
    const pidsLimit = big(m.pids?.limit);
    return {
      read: at,
      ...host,
      cpuUsageNs: big(m.cpu?.usage?.total),
      memoryUsage: inactive < usage ? usage - inactive : usage,
      memoryLimit: cappedLimit(big(m.memory?.usage?.limit)),
      pidsCurrent: big(m.pids?.current),
      pidsLimit: pidsLimit >= 2n ** 63n - 1n ? 0n : pidsLimit,
    };
  }
  if (typeUrl.endsWith(METRICS_V2_TYPE_URL)) {
    const m = cgroupsV2().Metrics.decode(value);
    const usage = big(m.memory?.usage);
    const inactive = big(m.memory?.inactiveFile);
    const pidsLimit = big(m.pids?.limit);
    return {
      read: at,
      ...host,
      cpuUsageNs: big(m.cpu?.usageUsec) * 1000n,
      memoryUsage: inactive < usage ? usage - inactive : usage,
      memoryLimit: cappedLimit(big(m.memory?.usageLimit)),
      pidsCurrent: big(m.pids?.current),
      pidsLimit: pidsLimit >= 2n ** 63n - 1n ? 0n : pidsLimit,
    };
  }
  throw new ErrdefsError('failedPrecondition', `the shim sent metrics of an unknown type ${JSON.stringify(typeUrl)}`);
}
