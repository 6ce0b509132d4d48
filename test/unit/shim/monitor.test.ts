/**
 * The exit monitor (shim/reaper/monitor.ts, STYLE B.4) over a real Reaper and the fake native
 * layer: a subscription collects every exit from the moment it is opened until closed (so a start
 * window sees an exit that happens before a pid is known), and children it spawns are owned by
 * libuv — registered with the reaper before `spawn` returns, released after their exit — with
 * their status normalised (code, or 128 + signal).
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { FakeNative } from '../../../native/fake';
import { ExitMonitor, Reaper } from '../../../shim/reaper';

describe('shim/reaper/monitor: ExitMonitor', () => {
  afterEach(() => sinon.restore());

  function setup(children: number[]) {
    const native = new FakeNative();
    for (const pid of children) native.addChild(pid);
    const reaper = new Reaper({ native, listChildren: () => children, now: () => 7n });
    return { native, reaper, monitor: new ExitMonitor(reaper) };
  }

  it('a subscription collects the exits reaped while it is open, and only those', () => {
    const { native, reaper, monitor } = setup([10, 11, 12]);
    native.exitChild(10, 0);
    reaper.reap(); // before the subscription
    const sub = monitor.subscribe();
    native.exitChild(11, 3);
    reaper.reap();
    assert.deepEqual(sub.exits, [{ pid: 11, status: 3, at: 7n }]);
    assert.deepEqual(sub.find(11), { pid: 11, status: 3, at: 7n });
    assert.equal(sub.find(10), undefined);
    sub.close();
    native.exitChild(12, 137, 9);
    reaper.reap();
    assert.equal(sub.exits.length, 1, 'closed: nothing more collected');
  });

  it('onExit listeners see every exit synchronously, before later subscribers', () => {
    const { native, reaper, monitor } = setup([20]);
    const order: string[] = [];
    const off = monitor.onExit((e) => order.push(`listener ${e.pid}`));
    const sub = monitor.subscribe();
    native.exitChild(20, 1);
    reaper.reap();
    order.push(`subscription ${sub.exits.length}`);
    assert.deepEqual(order, ['listener 20', 'subscription 1']);
    off();
    sub.close();
  });

  it('spawned children are owned by libuv until their exit, and report code or 128+signal', async () => {
    const { reaper, monitor } = setup([]);
    const own = sinon.spy(reaper, 'own');
    const disown = sinon.spy(reaper, 'disown');
    const three = monitor.spawn('/bin/sh', ['-c', 'exit 3'], { stdio: ['ignore', 'ignore', 'ignore'] });
    assert.ok(three.child.pid !== undefined);
    assert.deepEqual(own.firstCall.args, [three.child.pid], 'owned before spawn returned');
    const exit3 = await three.exit;
    assert.deepEqual([exit3.pid, exit3.status, exit3.signal], [three.child.pid, 3, undefined]);
    assert.ok(disown.calledWith(three.child.pid));
    const killed = await monitor.spawn('/bin/sh', ['-c', 'kill -9 $$'], { stdio: ['ignore', 'ignore', 'ignore'] }).exit;
    assert.deepEqual([killed.status, killed.signal], [137, 9]);
    assert.ok(killed.at > 0n);
  });

  it('a binary that cannot start rejects its exit promise and is never owned', async () => {
    const { reaper, monitor } = setup([]);
    const own = sinon.spy(reaper, 'own');
    await assert.rejects(monitor.spawn('/nonexistent/runc', [], { stdio: ['ignore', 'ignore', 'ignore'] }).exit, { code: 'ENOENT' });
    assert.equal(own.callCount, 0);
  });
});
