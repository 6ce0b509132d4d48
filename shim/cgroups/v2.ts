/**
 * cgroup v2 → `io.containerd.cgroups.v2.Metrics` (PROTOCOL §11.3), as containerd/cgroups v1.0.4's
 * v2 Manager.Stat() reads one cgroup directory:
 *
 * - `cpu.stat` and `memory.stat` only when `cpu` / `memory` are in `cgroup.controllers`;
 * - pids: `pids.current`, `pids.max`; memory usage/limits: `memory.current`, `memory.max`,
 *   `memory.swap.current`, `memory.swap.max` — "max" is 2^64−1, a missing file 0;
 * - `memory.events` (low, high, max, oom, oom_kill) only when the file exists;
 * - io: `io.stat` (`major:minor rbytes=… wbytes=… rios=… wios=…`); rdma: `rdma.current` / `rdma.max`;
 * - hugetlb: `hugetlb.<size>.current` / `.max`, ordered by page size.
 *
 * pids, cpu, memory, io and rdma are always present; missing files read as 0.
 */
import { join } from 'node:path';
import type * as gen from '../../proto/gen/cgroups';
import { long, MAX_U64, pageSizeBytes, parseLimit, parseUint, pick, readdir, readKeyValues, readOptional } from './files';
import { parseRdmaEntries } from './v1';

/** v2 Metrics as encoded (every field optional). */
export type V2MetricsInit = gen.io.containerd.cgroups.v2.Metrics.$Properties;
type IOEntryInit = gen.io.containerd.cgroups.v2.IOEntry.$Properties;
type HugeTlbStatInit = gen.io.containerd.cgroups.v2.HugeTlbStat.$Properties;

/** MemoryStat field → memory.stat key (fields 1–31). */
const MEMORY_STAT_KEYS = {
  anon: 'anon', file: 'file', kernelStack: 'kernel_stack', slab: 'slab', sock: 'sock', shmem: 'shmem',
  fileMapped: 'file_mapped', fileDirty: 'file_dirty', fileWriteback: 'file_writeback', anonThp: 'anon_thp',
  inactiveAnon: 'inactive_anon', activeAnon: 'active_anon', inactiveFile: 'inactive_file', activeFile: 'active_file',
  unevictable: 'unevictable', slabReclaimable: 'slab_reclaimable', slabUnreclaimable: 'slab_unreclaimable',
  pgfault: 'pgfault', pgmajfault: 'pgmajfault', workingsetRefault: 'workingset_refault',
  workingsetActivate: 'workingset_activate', workingsetNodereclaim: 'workingset_nodereclaim', pgrefill: 'pgrefill',
  pgscan: 'pgscan', pgsteal: 'pgsteal', pgactivate: 'pgactivate', pgdeactivate: 'pgdeactivate',
  pglazyfree: 'pglazyfree', pglazyfreed: 'pglazyfreed', thpFaultAlloc: 'thp_fault_alloc', thpCollapseAlloc: 'thp_collapse_alloc',
} as const;

const CPU_STAT_KEYS = {
  usageUsec: 'usage_usec', userUsec: 'user_usec', systemUsec: 'system_usec',
  nrPeriods: 'nr_periods', nrThrottled: 'nr_throttled', throttledUsec: 'throttled_usec',
} as const;

/** MemoryEvents field → memory.events key. */
export const MEMORY_EVENTS_KEYS = { low: 'low', high: 'high', max: 'max', oom: 'oom', oomKill: 'oom_kill' } as const;

const EMPTY = new Map<string, bigint>();

/** A single-value file where "max" means 2^64−1; a missing or unparsable file reads 0. */
async function readLimit(path: string): Promise<bigint> {
  const text = await readOptional(path);
  return text === undefined ? 0n : (parseLimit(text, MAX_U64) ?? 0n);
}

/** Reads the metrics of the v2 cgroup at `dir`. */
export async function readV2Metrics(dir: string): Promise<V2MetricsInit> {
  const file = (name: string) => join(dir, name);
  const controllers = new Set(((await readOptional(file('cgroup.controllers'))) ?? '').split(/\s+/));
  const [cpuStat, memoryStat, pidsCurrent, pidsMax, usage, usageLimit, swapUsage, swapLimit, events, io, rdmaCurrent, rdmaMax, hugetlb] = await Promise.all([
    controllers.has('cpu') ? readKeyValues(file('cpu.stat')) : undefined,
    controllers.has('memory') ? readKeyValues(file('memory.stat')) : undefined,
    readLimit(file('pids.current')),
    readLimit(file('pids.max')),
    readLimit(file('memory.current')),
    readLimit(file('memory.max')),
    readLimit(file('memory.swap.current')),
    readLimit(file('memory.swap.max')),
    readKeyValues(file('memory.events')),
    readOptional(file('io.stat')),
    readOptional(file('rdma.current')),
    readOptional(file('rdma.max')),
    readHugetlb(dir),
  ]);
  return {
    pids: { current: long(pidsCurrent), limit: long(pidsMax) },
    cpu: pick(cpuStat ?? EMPTY, CPU_STAT_KEYS),
    memory: {
      ...pick(memoryStat ?? EMPTY, MEMORY_STAT_KEYS),
      usage: long(usage),
      usageLimit: long(usageLimit),
      swapUsage: long(swapUsage),
      swapLimit: long(swapLimit),
    },
    memoryEvents: events ? pick(events, MEMORY_EVENTS_KEYS) : null,
    io: { usage: parseIoStat(io ?? '') },
    rdma: { current: parseRdmaEntries(rdmaCurrent ?? ''), limit: parseRdmaEntries(rdmaMax ?? '') },
    hugetlb,
  };
}

/** io.stat: one line per device, `major:minor key=value…`; rbytes, wbytes, rios, wios are kept. */
export function parseIoStat(text: string): IOEntryInit[] {
  const entries: IOEntryInit[] = [];
  for (const line of text.split('\n')) {
    const [device = '', ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(device);
    if (!m) continue;
    const values = new Map<string, bigint>();
    for (const pair of pairs) {
      const [key = '', raw = ''] = pair.split('=');
      const value = parseUint(raw);
      if (value !== undefined) values.set(key, value);
    }
    entries.push({ major: long(BigInt(m[1] ?? 0)), minor: long(BigInt(m[2] ?? 0)), ...pick(values, { rbytes: 'rbytes', wbytes: 'wbytes', rios: 'rios', wios: 'wios' }) });
  }
  return entries;
}

async function readHugetlb(dir: string): Promise<HugeTlbStatInit[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const sizes = [...new Set(names.map((n) => /^hugetlb\.([^.]+)\.(current|max)$/.exec(n)?.[1]).filter((s): s is string => s !== undefined))];
  sizes.sort((a, b) => pageSizeBytes(a) - pageSizeBytes(b));
  return Promise.all(
    sizes.map(async (pagesize) => {
      const [current, max] = await Promise.all([readLimit(join(dir, `hugetlb.${pagesize}.current`)), readLimit(join(dir, `hugetlb.${pagesize}.max`))]);
      return { pagesize, current: long(current), max: long(max) };
    }),
  );
}
