/**
 * Records and events → the API's messages (tsrunc.supervisor.v1).
 */
import { tsrunc } from '../../proto/gen/supervisor';
import { u64 } from '../../proto/long';
import { toTimestamp } from '../../proto/time';
import type { SupervisorEvent } from '../events/exchange';
import type { ContainerRecord, ContainerStatus } from '../store/types';

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
    status: statusOf(r.status),
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
