/**
 * cgroup v1 → `io.containerd.cgroups.v1.Metrics` (PROTOCOL §11.2), read as containerd/cgroups
 * v1.0.4 reads each controller's directory:
 *
 * - pids: current = `pids.current`, limit = `pids.max` ("max" → 0);
 * - cpuacct: usage total/per_cpu from `cpuacct.usage{,_percpu}`, user/kernel from `cpuacct.stat`
 *   ticks × 10⁹ / CLK_TCK (100 on Linux); cpu: throttling from `cpu.stat`;
 * - memory: `memory.stat` keys, the four MemoryEntry files, `memory.oom_control`;
 * - blkio: the CFQ `*_recursive` files when `blkio.io_serviced_recursive` exists and reports
 *   something, else `throttle.io_serviced` / `throttle.io_service_bytes`; device names from
 *   /proc/partitions;
 * - hugetlb: one entry per page size the controller exposes; rdma: `rdma.current` / `rdma.max`.
 *
 * A controller whose directory is not known, or whose files are missing, is left out (Go's
 * IgnoreNotExist); `cpu` is always present with its usage and throttling (Go pre-fills them).
 */
import { join } from 'node:path';
import type * as gen from '../../proto/gen/cgroups';
import { long, pageSizeBytes, parseLimit, parseUint, pick, readdir, readKeyValues, readOptional, readUint } from './files';

/** v1 Metrics as encoded (every field optional). */
export type V1MetricsInit = gen.io.containerd.cgroups.v1.Metrics.$Properties;
type MemoryEntryInit = gen.io.containerd.cgroups.v1.MemoryEntry.$Properties;
type BlkIOEntryInit = gen.io.containerd.cgroups.v1.BlkIOEntry.$Properties;
type BlkIOStatInit = gen.io.containerd.cgroups.v1.BlkIOStat.$Properties;
type RdmaEntryInit = gen.io.containerd.cgroups.v1.RdmaEntry.$Properties;

const NS_PER_TICK = 1_000_000_000n / 100n; // CLK_TCK is 100 on Linux (containerd/cgroups ticks.go)
const U32_MAX = 0xffffffff;

/** MemoryStat field → memory.stat key. */
const MEMORY_STAT_KEYS = {
  cache: 'cache', rss: 'rss', rssHuge: 'rss_huge', mappedFile: 'mapped_file', dirty: 'dirty', writeback: 'writeback',
  pgPgIn: 'pgpgin', pgPgOut: 'pgpgout', pgFault: 'pgfault', pgMajFault: 'pgmajfault',
  inactiveAnon: 'inactive_anon', activeAnon: 'active_anon', inactiveFile: 'inactive_file', activeFile: 'active_file',
  unevictable: 'unevictable', hierarchicalMemoryLimit: 'hierarchical_memory_limit', hierarchicalSwapLimit: 'hierarchical_memsw_limit',
  totalCache: 'total_cache', totalRss: 'total_rss', totalRssHuge: 'total_rss_huge', totalMappedFile: 'total_mapped_file',
  totalDirty: 'total_dirty', totalWriteback: 'total_writeback', totalPgPgIn: 'total_pgpgin', totalPgPgOut: 'total_pgpgout',
  totalPgFault: 'total_pgfault', totalPgMajFault: 'total_pgmajfault', totalInactiveAnon: 'total_inactive_anon',
  totalActiveAnon: 'total_active_anon', totalInactiveFile: 'total_inactive_file', totalActiveFile: 'total_active_file',
  totalUnevictable: 'total_unevictable',
} as const;

/** The CFQ blkio files, in containerd/cgroups' order, and the BlkIOStat field each fills. */
const CFQ_FILES: [string, keyof BlkIOStatInit][] = [
  ['sectors_recursive', 'sectorsRecursive'],
  ['io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ['io_serviced_recursive', 'ioServicedRecursive'],
  ['io_queued_recursive', 'ioQueuedRecursive'],
  ['io_service_time_recursive', 'ioServiceTimeRecursive'],
  ['io_wait_time_recursive', 'ioWaitTimeRecursive'],
  ['io_merged_recursive', 'ioMergedRecursive'],
  ['time_recursive', 'ioTimeRecursive'],
];
const THROTTLE_FILES: [string, keyof BlkIOStatInit][] = [
  ['throttle.io_serviced', 'ioServicedRecursive'],
  ['throttle.io_service_bytes', 'ioServiceBytesRecursive'],
];

/** Where the v1 reader finds block device names. */
export interface V1Options {
  /** /proc/partitions. */
  partitions: string;
}

/** Reads the metrics of a v1 cgroup given its controller directories. */
export async function readV1Metrics(controllers: ReadonlyMap<string, string>, options: V1Options): Promise<V1MetricsInit> {
  const at = (c: string) => controllers.get(c);
  const [pids, cpu, memory, blkio, hugetlb, rdma] = await Promise.all([
    ifDir(at('pids'), readPids),
    readCpu(at('cpuacct'), at('cpu')),
    ifDir(at('memory'), readMemory),
    ifDir(at('blkio'), (d) => readBlkio(d, options.partitions)),
    ifDir(at('hugetlb'), readHugetlb),
    ifDir(at('rdma'), readRdma),
  ]);
  return { pids: pids ?? null, cpu: cpu ?? null, memory: memory?.memory ?? null, memoryOomControl: memory?.oom ?? null, blkio: blkio ?? null, hugetlb: hugetlb ?? [], rdma: rdma ?? null };
}

function ifDir<T>(dir: string | undefined, read: (dir: string) => Promise<T | undefined>): Promise<T | undefined> {
  return dir === undefined ? Promise.resolve(undefined) : read(dir);
}

async function readPids(dir: string): Promise<V1MetricsInit['pids']> {
  const [current, max] = await Promise.all([readUint(join(dir, 'pids.current')), readOptional(join(dir, 'pids.max'))]);
  if (current === undefined) return undefined;
  return { current: long(current), limit: long(max === undefined ? 0n : parseLimit(max, 0n)) };
}

async function readCpu(cpuacct: string | undefined, cpu: string | undefined): Promise<V1MetricsInit['cpu']> {
  const [total, perCpu, stat, throttle] = await Promise.all([
    cpuacct === undefined ? undefined : readUint(join(cpuacct, 'cpuacct.usage')),
    cpuacct === undefined ? undefined : readOptional(join(cpuacct, 'cpuacct.usage_percpu')),
    cpuacct === undefined ? undefined : readKeyValues(join(cpuacct, 'cpuacct.stat')),
    cpu === undefined ? undefined : readKeyValues(join(cpu, 'cpu.stat')),
  ]);
  const ticks = (key: string) => long((stat?.get(key) ?? 0n) * NS_PER_TICK);
  return {
    usage: {
      total: long(total),
      user: ticks('user'),
      kernel: ticks('system'),
      perCpu: (perCpu ?? '').split(/\s+/).filter((v) => v !== '').map((v) => long(parseUint(v))),
    },
    throttling: pick(throttle ?? new Map<string, bigint>(), { periods: 'nr_periods', throttledPeriods: 'nr_throttled', throttledTime: 'throttled_time' }),
  };
}

async function readMemoryEntry(dir: string, module: string): Promise<MemoryEntryInit> {
  const file = (name: string) => join(dir, `memory.${module}${name}`);
  const [limit, usage, max, failcnt] = await Promise.all(['limit_in_bytes', 'usage_in_bytes', 'max_usage_in_bytes', 'failcnt'].map((n) => readUint(file(n))));
  return { limit: long(limit), usage: long(usage), max: long(max), failcnt: long(failcnt) };
}

/** memory.stat and friends; undefined when memory.stat is missing. Every MemoryEntry is present (`ctr` dereferences memory.usage). */
async function readMemory(dir: string): Promise<{ memory: V1MetricsInit['memory']; oom: V1MetricsInit['memoryOomControl'] } | undefined> {
  const [stat, oomControl, usage, swap, kernel, kernelTcp] = await Promise.all([
    readKeyValues(join(dir, 'memory.stat')),
    readKeyValues(join(dir, 'memory.oom_control')),
    readMemoryEntry(dir, ''),
    readMemoryEntry(dir, 'memsw.'),
    readMemoryEntry(dir, 'kmem.'),
    readMemoryEntry(dir, 'kmem.tcp.'),
  ]);
  if (!stat) return undefined;
  return {
    memory: { ...pick(stat, MEMORY_STAT_KEYS), usage, swap, kernel, kernelTcp },
    oom: oomControl && pick(oomControl, { oomKillDisable: 'oom_kill_disable', underOom: 'under_oom', oomKill: 'oom_kill' }),
  };
}

/** /proc/partitions → "major:minor" → /dev/<name>. */
export function parsePartitions(text: string): Map<string, string> {
  const devices = new Map<string, string>();
  for (const line of text.split('\n').slice(2)) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (major === undefined || minor === undefined || name === undefined) continue;
    const key = `${major}:${minor}`;
    if (!devices.has(key)) devices.set(key, `/dev/${name}`);
  }
  return devices;
}

/** One blkio file: `major:minor [op] value` lines (the `Total` line skipped). */
export function parseBlkioEntries(text: string, devices: ReadonlyMap<string, string>): BlkIOEntryInit[] {
  const entries: BlkIOEntryInit[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(/[ :]/).filter((f) => f !== '');
    if (fields.length < 3) continue; // blank, or "Total N"
    const [major = '', minor = '', third = '', fourth] = fields;
    const value = parseUint(fourth ?? third);
    const maj = parseUint(major);
    const min = parseUint(minor);
    if (value === undefined || maj === undefined || min === undefined) continue;
    entries.push({ op: fourth === undefined ? '' : third, device: devices.get(`${maj}:${min}`) ?? '', major: long(maj), minor: long(min), value: long(value) });
  }
  return entries;
}

async function readBlkio(dir: string, partitions: string): Promise<BlkIOStatInit> {
  const devices = parsePartitions((await readOptional(partitions)) ?? '');
  const read = async (files: [string, keyof BlkIOStatInit][]) => {
    const stat: BlkIOStatInit = {};
    let count = 0;
    for (const [name, field] of files) {
      const text = await readOptional(join(dir, `blkio.${name}`));
      if (text === undefined) continue;
      const entries = parseBlkioEntries(text, devices);
      (stat as Record<string, BlkIOEntryInit[]>)[field] = entries;
      count += entries.length;
    }
    return { stat, count };
  };
  const hasCfq = (await readOptional(join(dir, 'blkio.io_serviced_recursive'))) !== undefined;
  if (hasCfq) {
    const cfq = await read(CFQ_FILES);
    if (cfq.count > 0) return cfq.stat;
  }
  return (await read(THROTTLE_FILES)).stat;
}

async function readHugetlb(dir: string): Promise<V1MetricsInit['hugetlb']> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const sizes = names.map((n) => /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(n)?.[1]).filter((s): s is string => s !== undefined);
  // containerd lists page sizes in the order of /sys/kernel/mm/hugepages (hugepages-<kB>kB, sorted as strings)
  const dirName = (size: string) => `hugepages-${pageSizeBytes(size) / 1024}kB`;
  sizes.sort((a, b) => (dirName(a) < dirName(b) ? -1 : 1));
  return Promise.all(
    sizes.map(async (pagesize) => {
      const [usage, max, failcnt] = await Promise.all(['usage_in_bytes', 'max_usage_in_bytes', 'failcnt'].map((n) => readUint(join(dir, `hugetlb.${pagesize}.${n}`))));
      return { pagesize, usage: long(usage), max: long(max), failcnt: long(failcnt) };
    }),
  );
}

/** rdma.current / rdma.max lines: `<device> hca_handle=<n|max> hca_object=<n|max>` (max → 2^32−1). */
export function parseRdmaEntries(text: string): RdmaEntryInit[] {
  const entries: RdmaEntryInit[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const entry: RdmaEntryInit = { device: parts[0] ?? '', hcaHandles: 0, hcaObjects: 0 };
    for (const kv of parts.slice(1)) {
      const [key, raw = ''] = kv.split('=');
      const value = raw === 'max' ? U32_MAX : Number(parseUint(raw) ?? 0n);
      if (value > U32_MAX) continue;
      if (key === 'hca_handle') entry.hcaHandles = value;
      else if (key === 'hca_object') entry.hcaObjects = value;
    }
    entries.push(entry);
  }
  return entries;
}

async function readRdma(dir: string): Promise<V1MetricsInit['rdma']> {
  const [current, max] = await Promise.all([readOptional(join(dir, 'rdma.current')), readOptional(join(dir, 'rdma.max'))]);
  if (current === undefined || max === undefined) return undefined;
  return { current: parseRdmaEntries(current), limit: parseRdmaEntries(max) };
}

