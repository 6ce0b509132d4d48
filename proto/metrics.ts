/**
 * cgroup metrics (the Any carried by StatsResponse.stats, PROTOCOL §11), loaded on first use: only
 * Stats needs gen/cgroups.js, so the shim daemon does not pay for it at start-up.
 */
import type * as cgroups from './gen/cgroups';

/** cgroup v1 metrics (`io.containerd.cgroups.v1.Metrics`). */
export type MetricsV1 = cgroups.io.containerd.cgroups.v1.Metrics;
/** cgroup v2 metrics (`io.containerd.cgroups.v2.Metrics`). */
export type MetricsV2 = cgroups.io.containerd.cgroups.v2.Metrics;
/** The message namespace of cgroup v1 metrics (Metrics, MemoryStat, …). */
export type CgroupsV1 = typeof cgroups.io.containerd.cgroups.v1;
/** The message namespace of cgroup v2 metrics (Metrics, MemoryStat, …). */
export type CgroupsV2 = typeof cgroups.io.containerd.cgroups.v2;

/** Any type URL of cgroup v1 metrics. */
export const METRICS_V1_TYPE_URL = 'io.containerd.cgroups.v1.Metrics';
/** Any type URL of cgroup v2 metrics. */
export const METRICS_V2_TYPE_URL = 'io.containerd.cgroups.v2.Metrics';

let loaded: typeof cgroups | undefined;

function load(): typeof cgroups {
  // A synchronous, lazy require on purpose: static imports would load the module with the shim.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('./gen/cgroups') as typeof cgroups;
  return loaded;
}

/** The cgroup v1 metrics classes (loads gen/cgroups.js on first call). */
export function cgroupsV1(): CgroupsV1 {
  return load().io.containerd.cgroups.v1;
}

/** The cgroup v2 metrics classes (loads gen/cgroups.js on first call). */
export function cgroupsV2(): CgroupsV2 {
  return load().io.containerd.cgroups.v2;
}
