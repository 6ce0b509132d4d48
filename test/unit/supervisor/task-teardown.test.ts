/**
 * The teardown after an exit (supervisor/tasks/task-manager.ts finishExit), with a fake shim under
 * sinon fake timers: a Delete that fails is tried again, backing off, and the restart policy is
 * applied once it succeeds — not dropped, as it was, leaving an `always` container exited for good;
 * the container's error says what failed meanwhile, and after the last attempt. Also what happens
 * around it: a removal recovered, a shim that dies during Delete, an rm -f of a task that will not die.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { ErrdefsError } from '../../../proto/errdefs';
import { deleted, fakeTasks, type FakeShimCalls } from './fake-tasks';

/** A Delete that fails `failures` times with DeadlineExceeded, then works; `count` is how often it was called. */
function deleteFailing(failures: number): { calls: FakeShimCalls; count: () => number } {
  let deletes = 0;
  return {
    calls: { delete: (t, id) => (++deletes <= failures ? Promise.reject(new ErrdefsError('deadlineExceeded', 'Delete timed out')) : deleted(t, id)) },
    count: () => deletes,
  };
}

describe('supervisor: tasks ending, with a fake shim and fake timers', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.now() });
  });
  afterEach(() => clock.restore());

  describe('supervisor: the teardown after an exit', () => {
    it('a failed Delete is tried again; the restart policy is applied once it succeeds', async () => {
      const del = deleteFailing(2);
      const { tm, store } = fakeTasks(del.calls, { status: 'running' });
      tm.applyExit('c1', { status: 1, at: new Date() });
      await tm.queue.idle();
      assert.equal(del.count(), 1);
      assert.match(store.get('c1').error ?? '', /^task teardown failed \(trying again\): Delete timed out/);
      assert.equal(store.get('c1').restartAt, undefined, 'no restart while the task is not torn down');
      await clock.tickAsync(1000);
      await tm.queue.idle();
      assert.equal(del.count(), 2);
      await clock.tickAsync(2000); // backing off
      await tm.queue.idle();
      assert.equal(del.count(), 3);
      const r = store.get('c1');
      assert.equal(r.error, undefined);
      assert.equal(r.shim, undefined, 'torn down');
      assert.notEqual(r.restartAt, undefined, 'the policy asked for a restart');
      await tm.shutdown(); // the restart's timer
    });

    it('a stop meanwhile does not cancel the retry (the shim would be left running, connected)', async () => {
      const del = deleteFailing(1);
      const { tm, store } = fakeTasks(del.calls, { status: 'running' });
      tm.applyExit('c1', { status: 1, at: new Date() });
      await tm.queue.idle();
      await tm.stop('c1', 10);
      await clock.tickAsync(1000);
      await tm.queue.idle();
      assert.equal(del.count(), 2);
      assert.equal(store.get('c1').shim, undefined, 'torn down');
      assert.equal(store.get('c1').restartAt, undefined, 'stopped by hand: no restart');
    });

    it('a Delete that worked before a Shutdown that failed: the retry (the shim gone by then) sends no second /tasks/delete', async () => {
      let deletes = 0;
      let shutdowns = 0;
      const { tm, store } = fakeTasks(
        {
          delete: (t, id) => (++deletes === 1 ? deleted(t, id) : Promise.reject(new ErrdefsError('unavailable', 'shim connection closed during Delete'))),
          shutdown: () => (++shutdowns === 1 ? Promise.reject(new ErrdefsError('deadlineExceeded', 'Shutdown timed out')) : Promise.resolve()),
        },
        { status: 'running' },
      );
      const topics: string[] = [];
      tm.exchange.subscribe((e) => topics.push(e.topic));
      tm.applyExit('c1', { status: 1, at: new Date() });
      await tm.queue.idle();
      await clock.tickAsync(1000);
      await tm.queue.idle();
      assert.deepEqual(topics, ['/tasks/delete']);
      assert.equal(store.get('c1').shim, undefined);
      await tm.shutdown();
    });

    it('while the daemon stops, a connection that closes under Delete is not taken for a dead shim', async () => {
      const log: string[] = [];
      const { tm, store } = fakeTasks({ delete: () => Promise.reject(new ErrdefsError('unavailable', 'shim connection closed during Delete')) }, { status: 'running' }, { log });
      tm.quiesce();
      tm.applyExit('c1', { status: 1, at: new Date() });
      await tm.queue.idle();
      assert.deepEqual(log, ['Delete'], 'no `delete` action beside the live shim');
      assert.notEqual(store.get('c1').shim, undefined, 'recovery finishes it at the next start');
      await clock.tickAsync(60_000);
      assert.deepEqual(log, ['Delete'], 'and no retry');
    });

    it('gives up after five attempts, saying so', async () => {
      let deletes = 0;
      const { tm, store } = fakeTasks(
        {
          delete: () => {
            deletes++;
            return Promise.reject(new ErrdefsError('internal', 'runc delete: device or resource busy'));
          },
        },
        { status: 'running' },
      );
      tm.applyExit('c1', { status: 1, at: new Date() });
      for (let i = 0; i < 10; i++) {
        await clock.tickAsync(20_000);
        await tm.queue.idle();
      }
      assert.equal(deletes, 5);
      assert.match(store.get('c1').error ?? '', /^task teardown failed: runc delete: device or resource busy/);
      assert.equal(store.get('c1').restartAt, undefined);
    });
  });

  describe('supervisor: recovery of a removal the daemon died in', () => {
    it('with the shim still holding the task: attaches, deletes and shuts it down through the shim, then removes', async () => {
      const log: string[] = [];
      const { tm, store } = fakeTasks({}, { status: 'removing' }, { attached: false, log });
      await tm.recover();
      assert.deepEqual(log, ['attach', 'Delete', 'Shutdown']);
      assert.equal(store.find('c1'), undefined, 'removed');
    });
  });

  describe('supervisor: a shim that dies during Delete', () => {
    it('is cleaned up as a dead shim (its `delete` action), and the task’s delete event is published for it', async () => {
      const log: string[] = [];
      const { tm, store } = fakeTasks({ delete: () => Promise.reject(new ErrdefsError('unavailable', 'shim connection closed during Delete')) }, { status: 'running' }, { log });
      const topics: string[] = [];
      tm.exchange.subscribe((e) => topics.push(e.topic));
      tm.applyExit('c1', { status: 1, at: new Date() });
      await tm.queue.idle();
      assert.deepEqual(log, ['Delete', 'cleanupDead']);
      assert.deepEqual(topics, ['/tasks/delete']);
      assert.equal(store.get('c1').shim, undefined);
      await tm.shutdown(); // the restart's timer
    });
  });

  describe('supervisor: rm -f of a task that does not die', () => {
    it('fails after the kill wait and leaves the container as it was (still stoppable), not half removed', async () => {
      const log: string[] = [];
      const { tm, store } = fakeTasks({}, { status: 'running' }, { log });
      const removal = tm.remove('c1', true).then(
        () => undefined,
        (err: unknown) => err,
      );
      await clock.tickAsync(10_000);
      const err = await removal;
      assert.ok(err instanceof ErrdefsError && err.kind === 'deadlineExceeded', String(err));
      assert.match(err.message, /did not exit within 10 s of SIGKILL/);
      assert.deepEqual(log, ['Kill']);
      assert.equal(store.get('c1').status, 'running');
      assert.equal(store.get('c1').manualStop, undefined, 'its restart policy stays');
    });
  });
});
