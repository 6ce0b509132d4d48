/**
 * A TaskManager over an in-memory store and a fake shim, for unit tests of its bookkeeping: one
 * container `c1` with an `always` restart policy and the last run's times, created (or as given).
 * The shim's calls are what `calls` says; by default Start answers pid 42, Wait never ends, Delete
 * publishes /tasks/delete and answers, as a shim does, and Shutdown succeeds.
 */
import { Exchange } from '../../../supervisor/events/exchange';
import type { DaemonConfig } from '../../../supervisor/config';
import type { ShimManager } from '../../../supervisor/shims/manager';
import type { Shim } from '../../../supervisor/shims/shim';
import { MemoryBackend, Store } from '../../../supervisor/store/store';
import type { ContainerRecord } from '../../../supervisor/store/types';
import { TaskManager } from '../../../supervisor/tasks/task-manager';
import type { Logger } from '../../../supervisor/util/log';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };

/** Its own namespace: a removal tidies the namespace's empty cgroup parents (of none here). */
const NAMESPACE = 'tsrunc-unit-fake';

/** A time an hour ago: the last run's. */
export const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

/** What the fake shim does; `tm` is the manager it belongs to (to publish events as a shim would). */
export interface FakeShimCalls {
  start?: (tm: TaskManager, id: string) => Promise<{ pid: number }>;
  delete?: (tm: TaskManager, id: string) => Promise<unknown>;
  shutdown?: () => Promise<void>;
}

/** Delete as a shim does it: /tasks/delete published, then the answer. */
export function deleted(tm: TaskManager, id: string): Promise<unknown> {
  shimEvent(tm, '/tasks/delete', { containerId: id, pid: 42, exitStatus: 1, id: '' });
  return Promise.resolve({ pid: 42, exitStatus: 1 });
}

/**
 * `attached: false`: the shim is known to the manager only once `shims.attach` was called, as after
 * a daemon restart; `calls` records what was asked of the fake shim and its manager.
 */
export function fakeTasks(calls: FakeShimCalls, record: Partial<ContainerRecord> = {}, options: { attached?: boolean; log?: string[] } = {}): { tm: TaskManager; store: Store } {
  const store = new Store(new MemoryBackend());
  let attached = options.attached ?? true;
  const log = options.log ?? [];
  const shim = {
    closed: new Promise<void>(() => undefined),
    start: (id: string) => (calls.start ?? (() => Promise.resolve({ pid: 42 })))(tm, id),
    wait: () => new Promise<never>(() => undefined),
    delete: (id: string) => {
      log.push('Delete');
      return (calls.delete ?? deleted)(tm, id);
    },
    kill: () => {
      log.push('Kill');
      return Promise.resolve({});
    },
    shutdown: () => {
      log.push('Shutdown');
      return calls.shutdown?.() ?? Promise.resolve();
    },
  } as unknown as Shim;
  const shims = {
    get: () => (attached ? shim : undefined),
    attach: () => {
      log.push('attach');
      attached = true;
      return Promise.resolve(shim);
    },
    cleanupDead: () => {
      log.push('cleanupDead');
      return Promise.resolve({ pid: 0, exitStatus: 255, exitedAt: new Date(), warnings: '' });
    },
    isLost: () => false,
    releasing: () => undefined,
    release: () => Promise.resolve(),
    closeAll: () => Promise.resolve(),
  } as unknown as ShimManager;
  const tm = new TaskManager({} as DaemonConfig, store, shims, new Exchange(), quiet, { mkfifo: () => undefined });
  store.insert({
    schema: 1,
    id: 'c1',
    name: 'c1',
    namespace: NAMESPACE,
    status: 'created',
    pid: 42,
    startedAt: HOUR_AGO,
    exitedAt: HOUR_AGO,
    restartPolicy: { name: 'always', maxRetries: 0 },
    restartStreak: 5,
    bundle: '/nonexistent',
    logDir: '/nonexistent',
    autoRemove: false,
    shim: { address: 'unix:///nonexistent', pid: 1 },
    ...record,
  } as unknown as ContainerRecord);
  return { tm, store };
}

/** A shim's event, as the events endpoint hands it to the manager. */
export function shimEvent(tm: TaskManager, topic: string, event: Record<string, unknown>): void {
  tm.onForwarded({ namespace: NAMESPACE, topic, timestamp: new Date(), raw: undefined, decoded: { topic, event } } as unknown as Parameters<TaskManager['onForwarded']>[0]);
}
