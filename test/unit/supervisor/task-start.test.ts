/**
 * The start time the task manager records for a task (supervisor/tasks/task-manager.ts startLocked),
 * with a fake shim and an in-memory store: it is this task's, never the last run's — whether the
 * shim's /tasks/start comes before Start's answer (both shims publish it first) or the exit is applied
 * while Start is in flight. A restart policy measures a run from it: with the last run's start, a
 * container that crashes at once looked as if it had run for minutes, and was restarted without
 * backoff (nextStreak).
 */
import assert from 'node:assert/strict';
import { nextStreak } from '../../../supervisor/tasks/restart-policy';
import { fakeTasks, shimEvent } from './fake-tasks';

describe('supervisor: a task’s start time', () => {
  it('is this task’s when the shim’s /tasks/start comes before Start’s answer', async () => {
    const before = Date.now();
    const { tm } = fakeTasks({
      start: (t, id) => {
        shimEvent(t, '/tasks/start', { containerId: id, pid: 42 });
        return Promise.resolve({ pid: 42 });
      },
    });
    const r = await tm.start('c1');
    assert.equal(r.status, 'running');
    assert.ok(Date.parse(r.startedAt ?? '') >= before, `startedAt ${r.startedAt} is the last run's`);
  });

  it('is this task’s when the exit is applied while Start is in flight; a crash at once lengthens the backoff', async () => {
    const before = Date.now();
    const { tm, store } = fakeTasks({
      start: (t, id) => {
        t.applyExit(id, { status: 1, at: new Date() });
        return Promise.resolve({ pid: 42 });
      },
    });
    await tm.start('c1');
    const r = store.get('c1');
    assert.equal(r.status, 'stopped');
    assert.ok(Date.parse(r.startedAt ?? '') >= before, `startedAt ${r.startedAt} is the last run's`);
    assert.equal(nextStreak(r), 6, 'a run of no time continues the streak');
    await tm.queue.idle(); // the teardown the exit queued
    await tm.shutdown(); // and the restart it planned
  });
});
