/**
 * Resource limits (docker's --memory, --cpus, --pids-limit) as the OCI spec's `linux.resources`
 * fragment: memory.limit (bytes), cpu.quota over a 100 ms cpu.period, pids.limit. The same fragment
 * goes into config.json at create and, as an OCI LinuxResources Any, into the shim's Update (which
 * runs `runc update --resources -`). Fields left out are left alone.
 */
import { ErrdefsError } from '../../proto/errdefs';
import type { OciSpec } from './spec';

/** The limits of a container; an absent field is unlimited (create) or unchanged (update). */
export interface ResourceLimits {
  /** Bytes. */
  readonly memory?: number | undefined;
  /** CPUs × 1e9 (1.5 CPUs = 1_500_000_000). */
  readonly nanoCpus?: number | undefined;
  /** Most processes; -1 = unlimited. */
  readonly pidsLimit?: number | undefined;
}

/** The CFS period we pair the quota with, µs (docker's). */
export const CPU_PERIOD_US = 100_000;
/** The kernel refuses a quota below 1 ms. */
const MIN_CPU_QUOTA_US = 1_000;
/** Below this the container cannot even start (runc's own minimum is lower, docker's is 6 MiB). */
const MIN_MEMORY = 6 * 1024 * 1024;

/** Throws InvalidArgument for limits that runc or the kernel would refuse less clearly. */
export function checkLimits(limits: ResourceLimits): void {
  const { memory, nanoCpus, pidsLimit } = limits;
  if (memory !== undefined && (!Number.isSafeInteger(memory) || memory < MIN_MEMORY)) throw new ErrdefsError('invalidArgument', `memory limit ${memory} is below the minimum of 6 MiB`);
  if (nanoCpus !== undefined && (!Number.isSafeInteger(nanoCpus) || (nanoCpus * CPU_PERIOD_US) / 1e9 < MIN_CPU_QUOTA_US)) {
    throw new ErrdefsError('invalidArgument', `cpus ${nanoCpus / 1e9} is below the minimum of 0.01`);
  }
  if (pidsLimit !== undefined && (!Number.isSafeInteger(pidsLimit) || pidsLimit === 0 || pidsLimit < -1)) throw new ErrdefsError('invalidArgument', `pids limit ${pidsLimit} must be positive (or -1: unlimited)`);
}

/** True when no limit is given. */
export function isEmpty(limits: ResourceLimits | undefined): boolean {
  return limits === undefined || (limits.memory === undefined && limits.nanoCpus === undefined && limits.pidsLimit === undefined);
}

/** The OCI LinuxResources JSON of `limits` (only what is set). */
export function linuxResources(limits: ResourceLimits): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (limits.memory !== undefined) out['memory'] = { limit: limits.memory };
  if (limits.nanoCpus !== undefined) out['cpu'] = { quota: Math.round((limits.nanoCpus * CPU_PERIOD_US) / 1e9), period: CPU_PERIOD_US };
  if (limits.pidsLimit !== undefined) out['pids'] = { limit: limits.pidsLimit };
  return out;
}

/** `spec` with `limits` merged into linux.resources (keeping what else is there, e.g. the device rules). */
export function withLimits(spec: OciSpec, limits: ResourceLimits | undefined): OciSpec {
  if (limits === undefined || isEmpty(limits)) return spec;
  const linux = { ...(spec.linux ?? {}) };
  const current = (linux['resources'] ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(linuxResources(limits))) merged[key] = { ...((current[key] ?? {}) as Record<string, unknown>), ...(value as Record<string, unknown>) };
  linux['resources'] = merged;
  return { ...spec, linux };
}

/** `base` with the fields set in `change` replaced. */
export function mergeLimits(base: ResourceLimits | undefined, change: ResourceLimits): ResourceLimits {
  return {
    memory: change.memory ?? base?.memory,
    nanoCpus: change.nanoCpus ?? base?.nanoCpus,
    pidsLimit: change.pidsLimit ?? base?.pidsLimit,
  };
}
