/**
 * The start time the task manager records for a task (supervisor/tasks/task-manager.ts startLocked),
 * with a fake shim and an in-memory store: it is this task's, never the last run's — whether the
 * shim's /tasks/start comes before Start's answer (both shims publish it first) or the exit is applied
 * while Start is in flight. A restart policy measures a run from it: with the last run's start, a
 * container that crashes at once looked as if it had run for minutes, and was restarted without
 * backoff (nextStreak).
 */
import assert from 'node:assert/strict';
import { ErrdefsError } from '../../../proto/errdefs';
import type { DaemonConfig } from '../../../supervisor/config';
import { Exchange } from '../../../supervisor/events/exchange';
import type { ShimManager } from '../../../supervisor/shims/manager';
import type { Shim } from '../../../supervisor/shims/shim';
import { MemoryBackend, Store } from '../../../supervisor/store/store';
import type { ContainerRecord } from '../../../supervisor/store/types';
import { nextStreak } from '../../../supervisor/tasks/restart-policy';
import { TaskManager } from '../../../supervisor/tasks/task-manager';
import type { Logger } from '../../../supervisor/util/log';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quiet };
const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

function fixture(onStart: (tm: TaskManager, id: string) => void): { tm: TaskManager; store: Store } {
  const store = new Store(new MemoryBackend());
  const gone = (): Promise<never> => Promise.reject(new ErrdefsError('notFound', 'gone'));
  const shim = {
    closed: new Promise<void>(() => undefined),
    start: (id: string) => {
      onStart(tm, id);
      return Promise.resolve({ pid: 42 });
    },
    wait: () => new Promise<never>(() => undefined),
    delete: gone,
    shutdown: () => Promise.resolve(),
  } as unknown as Shim;
  const shims = {
    get: () => shim,
    isLost: () => false,
    releasing: () => undefined,
    release: () => Promise.resolve(),
  } as unknown as ShimManager;
  const tm = new TaskManager({} as DaemonConfig, store, shims, new Exchange(), quiet, { mkfifo: () => undefined });
  const record = {
    schema: 1,
    id: 'c1',
    name: 'c1',
    namespace: 'default',
    status: 'created',
    pid: 42,
    startedAt: HOUR_AGO, // the last run's
    exitedAt: HOUR_AGO,
    restartPolicy: { name: 'always', maxRetries: 0 },
    restartStreak: 5,
    bundle: '/nonexistent',
    logDir: '/nonexistent',
    autoRemove: false,
    shim: { address: 'unix:///nonexistent', pid: 1 },
  } as unknown as ContainerRecord;
  store.insert(record);
  return { tm, store };
}

function startEvent(tm: TaskManager, id: string): void {
  tm.onForwarded({
    namespace: 'default',
    topic: '/tasks/start',
    timestamp: new Date(),
    raw: undefined,
    decoded: { topic: '/tasks/start', event: { containerId: id, pid: 42 } },
  } as unknown as Parameters<TaskManager['onForwarded']>[0]);
}

describe('supervisor: a task’s start time', () => {
  it('is this task’s when the shim’s /tasks/start comes before Start’s answer', async () => {
    const before = Date.now();
    const { tm } = fixture(startEvent);
    const r = await tm.start('c1');
    assert.equal(r.status, 'running');
    assert.ok(Date.parse(r.startedAt ?? '') >= before, `startedAt ${r.startedAt} is the last run's`);
  });

  it('is this task’s when the exit is applied while Start is in flight; a crash at once lengthens the backoff', async () => {
    const before = Date.now();
    const { tm, store } = fixture((t, id) => t.applyExit(id, { status: 1, at: new Date() }));
    await tm.start('c1');
    const r = store.get('c1');
    assert.equal(r.status, 'stopped');
    assert.ok(Date.parse(r.startedAt ?? '') >= before, `startedAt ${r.startedAt} is the last run's`);
    assert.equal(nextStreak(r), 6, 'a run of no time continues the streak');
    await tm.queue.idle(); // the teardown the exit queued
  });
});
