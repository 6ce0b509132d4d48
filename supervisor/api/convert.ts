/**
 * Records and events → the API's messages (tsrunc.supervisor.v1).
 */
import { tsrunc } from '../../proto/gen/supervisor';
import { i64, toNumber, u64 } from '../../proto/long';
import { toTimestamp } from '../../proto/time';
import type { SupervisorEvent } from '../events/exchange';
import type { ResourceLimits } from '../shims/resources';
import type { ContainerRecord, ContainerStatus } from '../store/types';
import type { StatsFigures } from '../tasks/stats';

/** The API's messages. */
export import api = tsrunc.supervisor.v1;

/** Record status → API status (`creating` shows as created, `removing` as stopped). */
export function statusOf(status: ContainerStatus): api.Status {
  switch (status) {
    case 'creating':
    case 'created':
      return api.Status.STATUS_CREATED;
    case 'running':
      return api.Status.STATUS_RUNNING;
    case 'stopped':
    case 'removing':
      return api.Status.STATUS_STOPPED;
  }
}

function time(iso: string | undefined): ReturnType<typeof toTimestamp> | null {
  return iso === undefined ? null : toTimestamp(new Date(iso));
}

/** A record as the API's Container. */
export function toContainer(r: ContainerRecord): api.Container {
  return api.Container.create({
    id: r.id,
    name: r.name,
    namespace: r.namespace,
    runtime: r.runtime,
    runtimeBinary: r.runtimeBinary,
    bundle: r.bundle,
    rootfs: r.rootfs,
    args: [...r.args],
    env: [...r.env],
    cwd: r.cwd,
    createdAt: time(r.createdAt),
    status: r.status === 'running' && r.paused === true ? api.Status.STATUS_PAUSED : statusOf(r.status),
    pid: r.pid,
    exitStatus: r.exitStatus ?? 0,
    startedAt: time(r.startedAt),
    exitedAt: time(r.exitedAt),
    autoRemove: r.autoRemove,
    restartPolicy: api.RestartPolicy.create({ name: r.restartPolicy.name, maxRetries: r.restartPolicy.maxRetries }),
    shim: r.shim === undefined ? null : api.Shim.create({ address: r.shim.address, version: r.shim.version, protocol: r.shim.protocol, binary: r.shim.binary }),
    logDir: r.logDir,
    labels: { ...r.labels },
    error: r.error ?? '',
    logConfig: api.LogConfig.create({ maxSize: u64(r.logConfig.maxSize), maxFiles: r.logConfig.maxFiles }),
    oomKilled: r.oomKilled ?? false,
    resources: r.resources === undefined ? null : toResources(r.resources),
    terminal: r.terminal ?? false,
    stdin: r.stdin ?? false,
    restartCount: r.restartCount ?? 0,
    restartAt: time(r.restartAt),
  });
}

/** Limits as the API's Resources (absent fields stay absent). */
export function toResources(l: ResourceLimits): api.Resources {
  const out = api.Resources.create();
  if (l.memory !== undefined) out.memory = i64(l.memory);
  if (l.nanoCpus !== undefined) out.nanoCpus = i64(l.nanoCpus);
  if (l.pidsLimit !== undefined) out.pidsLimit = i64(l.pidsLimit);
  return out;
}

/** The API's Resources as limits (undefined when none is given). */
export function limitsOf(r: api.IResources | null | undefined): ResourceLimits | undefined {
  if (r == null) return undefined;
  const field = (v: api.IResources['memory']): number | undefined => (v == null ? undefined : toNumber(v));
  const limits = { memory: field(r.memory), nanoCpus: field(r.nanoCpus), pidsLimit: field(r.pidsLimit) };
  return limits.memory === undefined && limits.nanoCpus === undefined && limits.pidsLimit === undefined ? undefined : limits;
}

/** A stats sample as the API's ContainerStats. */
export function toContainerStats(r: ContainerRecord, f: StatsFigures): api.ContainerStats {
  return api.ContainerStats.create({
    id: r.id,
    name: r.name,
    read: toTimestamp(f.read),
    cpuUsageNs: u64(f.cpuUsageNs),
    systemCpuNs: u64(f.systemCpuNs),
    onlineCpus: f.onlineCpus,
    memoryUsage: u64(f.memoryUsage),
    memoryLimit: u64(f.memoryLimit),
    pidsCurrent: u64(f.pidsCurrent),
    pidsLimit: u64(f.pidsLimit),
  });
}

/** An exchange event as the API's Event. */
export function toEvent(e: SupervisorEvent): api.Event {
  return api.Event.create({
    timestamp: toTimestamp(e.timestamp),
    namespace: e.namespace,
    topic: e.topic,
    containerId: e.containerId,
    containerName: e.containerName,
    execId: e.execId,
    pid: e.pid,
    exitStatus: e.exitStatus,
    exitedAt: e.exitedAt === undefined ? null : toTimestamp(e.exitedAt),
    event: e.event === undefined ? null : { typeUrl: e.event.typeUrl, value: e.event.value },
  });
}
