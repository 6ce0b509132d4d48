/**
 * supervisor/tasks/exit-latch.ts under sinon fake timers: waitFor resolves true on the exit, false
 * after its time, and a time past what setTimeout takes (`stop -t` of weeks) is not an instant
 * timeout.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { ExitLatches } from '../../../supervisor/tasks/exit-latch';

describe('supervisor: exit latches', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers();
  });
  afterEach(() => clock.restore());

  it('waitFor: true on the exit, false once its time is up', async () => {
    const latches = new ExitLatches();
    const first = latches.waitFor('a', 1000);
    latches.fire('a');
    assert.equal(await first, true);
    const second = latches.waitFor('b', 1000);
    await clock.tickAsync(1000);
    assert.equal(await second, false);
  });

  it('waitFor of 30 days waits (setTimeout would fire at once past 2^31 − 1 ms)', async () => {
    const latches = new ExitLatches();
    let settled: boolean | undefined;
    void latches.waitFor('a', 30 * 24 * 3600 * 1000).then((v) => (settled = v));
    await clock.tickAsync(1000);
    assert.equal(settled, undefined, 'still waiting');
    latches.fire('a');
    await clock.tickAsync(0);
    assert.equal(settled, true);
  });
});
