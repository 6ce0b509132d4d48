/**
 * supervisor/tasks/delete-events.ts under sinon fake timers: a teardown's wait ends on the shim's
 * delete event whether it came before or after the wait began, only for the task's own pid, and
 * after its time without one; a delete we published ourselves makes the shim's late copy dropped.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { DeleteEvents } from '../../../supervisor/tasks/delete-events';

describe('supervisor: delete events', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });
  afterEach(() => clock.restore());

  it('the wait ends on the event, whether it came before or after the wait began', async () => {
    const d = new DeleteEvents();
    assert.equal(d.arrived('a', 10), true);
    assert.equal(await d.waitFor('a', 10, 1000), true, 'already there');
    const later = d.waitFor('b', 20, 1000);
    assert.equal(d.arrived('b', 20), true);
    assert.equal(await later, true);
    assert.equal(clock.countTimers(), 0, 'no timer left behind');
  });

  it('an event of another pid (an earlier task of the container) does not end the wait', async () => {
    const d = new DeleteEvents();
    d.arrived('a', 9);
    let settled: boolean | undefined;
    void d.waitFor('a', 10, 1000).then((v) => (settled = v));
    d.arrived('a', 8);
    await clock.tickAsync(999);
    assert.equal(settled, undefined);
    d.arrived('a', 10);
    await clock.tickAsync(0);
    assert.equal(settled, true);
  });

  it('a pid of 0 (no init.pid) matches any', async () => {
    const d = new DeleteEvents();
    d.arrived('a', 33);
    assert.equal(await d.waitFor('a', 0, 1000), true);
  });

  it('no event in time: false; the shim’s late copy of the one we published is dropped, once', async () => {
    const d = new DeleteEvents();
    const wait = d.waitFor('a', 10, 2000);
    await clock.tickAsync(2000);
    assert.equal(await wait, false);
    d.publishedOurs('a', 10);
    assert.equal(d.arrived('a', 10), false, 'the late copy is dropped');
    assert.equal(d.arrived('a', 10), true, 'a second one is not ours to drop');
  });

  it('an own delete with pid 0 is not remembered: the next task’s delete would match it', () => {
    const d = new DeleteEvents();
    d.publishedOurs('a', 0);
    assert.equal(d.arrived('a', 77), true);
  });

  it('forget ends a wait; remembered own deletes are bounded', async () => {
    const d = new DeleteEvents();
    const wait = d.waitFor('a', 10, 2000);
    d.forget('a');
    assert.equal(await wait, false);
    for (let i = 0; i < 300; i++) d.publishedOurs(`c${i}`, i + 1);
    assert.equal(d.arrived('c0', 1), true, 'the oldest was let go');
    assert.equal(d.arrived('c299', 300), false);
  });
});
