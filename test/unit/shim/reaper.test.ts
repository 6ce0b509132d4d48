import assert from 'node:assert/strict';
import { FakeNative } from '../../../native/fake';
import { Reaper, nowNs } from '../../../shim/reaper';
import { anchoredClock } from '../../../shim/reaper/exit';

describe('shim/reaper (fake native)', () => {
  function setup(children: number[]) {
    const native = new FakeNative();
    for (const pid of children) native.addChild(pid);
    const reaper = new Reaper({ native, listChildren: () => children, now: () => 42n });
    return { native, reaper };
  }

  it('reaps only the children libuv does not own, and reports them synchronously in order', () => {
    const { native, reaper } = setup([10, 11, 12]);
    const seen: number[] = [];
    reaper.onExit((e) => seen.push(e.pid));
    reaper.own(11);
    native.exitChild(10, 0);
    native.exitChild(11, 1);
    native.exitChild(12, 137, 9);
    const exits = reaper.reap();
    assert.deepEqual(exits, [
      { pid: 10, status: 0, at: 42n },
      { pid: 12, status: 137, signal: 9, at: 42n },
    ]);
    assert.deepEqual(seen, [10, 12]);
    assert.ok(!native.calls.some(([m, pid]) => m === 'waitPid' && pid === 11), 'never waits for an owned pid');
  });

  it('leaves running children alone and ignores children already gone (ECHILD)', () => {
    const { native, reaper } = setup([20, 21]);
    native.exitChild(21, 3);
    assert.deepEqual(reaper.reap().map((e) => e.pid), [21]);
    assert.deepEqual(reaper.reap(), [], 'reaped once only: 21 is gone (ECHILD), 20 still runs');
  });

  it('stops delivering to an unsubscribed listener', () => {
    const { native, reaper } = setup([30]);
    const seen: number[] = [];
    const off = reaper.onExit((e) => seen.push(e.pid));
    off();
    native.exitChild(30, 0);
    reaper.reap();
    assert.deepEqual(seen, []);
  });

  it('poll reaps at once once started (a SIGCHLD still queued), and leaves children alone before', () => {
    const { native, reaper } = setup([40, 41]);
    const seen: number[] = [];
    reaper.onExit((e) => seen.push(e.pid));
    native.exitChild(40, 0);
    reaper.poll();
    assert.deepEqual(seen, [], 'not reaping yet: nothing of ours may take a child');
    reaper.start();
    try {
      assert.deepEqual(seen, [40], 'start reaps the zombies already waiting');
      native.exitChild(41, 0);
      reaper.poll(); // before any SIGCHLD handler could run: this is synchronous
      assert.deepEqual(seen, [40, 41]);
    } finally {
      reaper.stop();
    }
  });
});

describe('shim/reaper nowNs', () => {
  it('is the wall clock in nanoseconds, within the millisecond it is anchored to, and never goes back', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const a = nowNs();
    const b = nowNs();
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    assert.ok(a >= before - 1_000_000n && a <= after, `${before} <= ${a} <= ${after}`);
    assert.ok(b >= a);
  });

  it('follows the wall clock when it is stepped or the machine slept (the monotonic clock stopped): it anchors again', () => {
    let wall = 1_700_000_000_000; // ms
    let mono = 5_000_000_000n; // ns
    const clock = anchoredClock(
      () => wall,
      () => mono,
    );
    assert.equal(clock(), 1_700_000_000_000_000_000n);
    mono += 1_234_567n; // 1.23 ms later: exact to the nanosecond, between wall ticks
    wall += 1;
    assert.equal(clock(), 1_700_000_000_001_234_567n);
    wall += 3_600_000; // an hour of sleep: the monotonic clock stood still
    mono += 1_000n;
    assert.equal(clock(), 1_700_003_600_001_000_000n, 'anchored again to the wall clock');
    mono += 500n;
    assert.equal(clock(), 1_700_003_600_001_000_500n);
    wall -= 60_000; // stepped back a minute
    assert.equal(clock(), 1_700_003_540_001_000_000n);
  });
});
