/**
 * Controlling a running task without ending it: pause (freeze every process of its cgroup),
 * resume, update its resource limits, and read its cgroup figures. Each runs in the container's
 * queue (like every lifecycle operation) except stats, which only reads.
 *
 * `paused` is kept on the record, so ps and inspect show it (status Paused) and a restarted daemon
 * learns it again from the shim's State. A paused container that is killed is resumed after the
 * signal (task-manager.ts), as docker does: a frozen process cannot act on it.
 */
import { ErrdefsError } from '../../proto/errdefs';
import { OCI_LINUX_RESOURCES_TYPE_URL, packJson } from '../../proto/index';
import { changeSpec } from '../shims/bundle';
import { type ResourceLimits, checkLimits, isEmpty, linuxResources, mergeLimits, withLimits } from '../shims/resources';
import type { Shim } from '../shims/shim';
import type { ContainerRecord } from '../store/types';
import { errorMessage } from '../util/log';
import type { TaskInternals } from './internals';
import { type StatsFigures, figuresOf } from './stats';

function requireRunning(record: ContainerRecord, verb: string): void {
  if (record.status !== 'running') throw new ErrdefsError('failedPrecondition', `cannot ${verb} container ${record.name}: it is ${record.status}`);
}

/** Freezes the container. Call in its queue. */
export async function pauseTask(t: TaskInternals, shim: Shim, record: ContainerRecord): Promise<ContainerRecord> {
  requireRunning(record, 'pause');
  if (record.paused === true) throw new ErrdefsError('failedPrecondition', `container ${record.name} is already paused`);
  await shim.pause(record.id);
  t.store.update(record.id, (r) => {
    if (r.status === 'running') r.paused = true;
  });
  return t.store.get(record.id);
}

/** Thaws the container. Call in its queue. */
export async function resumeTask(t: TaskInternals, shim: Shim, record: ContainerRecord): Promise<ContainerRecord> {
  requireRunning(record, 'resume');
  if (record.paused !== true) throw new ErrdefsError('failedPrecondition', `container ${record.name} is not paused`);
  await shim.resume(record.id);
  t.store.update(record.id, (r) => {
    r.paused = undefined;
  });
  return t.store.get(record.id);
}

/** New limits for a running container through the shim's Update; the record keeps the result. Call in its queue. */
export async function updateTask(t: TaskInternals, shim: Shim, record: ContainerRecord, change: ResourceLimits): Promise<ContainerRecord> {
  if (isEmpty(change)) throw new ErrdefsError('invalidArgument', 'update needs at least one of --memory, --cpus, --pids-limit');
  checkLimits(change);
  requireRunning(record, 'update');
  await shim.update(record.id, packJson(OCI_LINUX_RESOURCES_TYPE_URL, linuxResources(change)));
  t.store.update(record.id, (r) => {
    r.resources = mergeLimits(r.resources, change);
  });
  try {
    // a restart by the policy creates the task from the bundle's spec: it keeps the new limits
    changeSpec(record.bundle, record.logDir, (spec) => withLimits(spec, change));
  } catch (err) {
    t.log.warn('the new limits apply now, but a restart will not have them: the spec could not be written', { id: record.id, err: errorMessage(err) });
  }
  return t.store.get(record.id);
}

/** One sample of the container's cgroup figures. */
export async function statsOf(shim: Shim, record: ContainerRecord): Promise<StatsFigures> {
  requireRunning(record, 'read the stats of');
  const response = await shim.stats(record.id);
  return figuresOf(response.stats);
}
