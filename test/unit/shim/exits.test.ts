/**
 * The exit bookkeeping contracts of shim/task/exits.ts (STYLE B.5; containerd's preStart /
 * handleStarted / handleInitExit; PROTOCOL §8.3), with a FakeMonitor whose exits the test
 * delivers and real BaseProcess state/latches (FakeProcess):
 *
 *  - a process that exits before its start returned (or before its pid is known) has its exit
 *    applied at `window.end`, after the caller queued the start event;
 *  - the init's exit is published after the exits of every exec that ran;
 *  - without a pid namespace of its own, the container is killed before the init's exit applies;
 *  - the init's exit waits for its output in flight to reach the client;
 *  - exactly one exit per process.
 *
 * The trace records, in order, the events the caller queues ("create", "start", …), the exits the
 * tracker publishes ("exit <id> <status>") and the init hooks it calls.
 */
import assert from 'node:assert/strict';
import { type Container } from '../../../shim/container/container';
import { type DeliveryOutcome } from '../../../shim/process/types';
import { ExitTracker } from '../../../shim/task/exits';
import { type Fields } from '../../../shim/util/log';
import { Deferred, FakeMonitor, FakeProcess, fakeContainer, flushMicrotasks } from './fakes';

const INIT_PID = 100;
const DELIVERED: DeliveryOutcome = { delivered: true };

interface World {
  monitor: FakeMonitor;
  tracker: ExitTracker;
  trace: string[];
  errors: [string, unknown][];
  logged: [string, string, Fields | undefined][];
  init: FakeProcess;
  c: Container;
  detach: () => void;
  /** A new exec of the container (not started). */
  exec(id: string): FakeProcess;
  /** Runs an exec's start the way the service does: window, runc exec (pid known), event, end. */
  startExec(id: string, pid: number): FakeProcess;
  /** The same, up to its window's end: `end` queues the event and ends the window. */
  openExec(id: string, pid: number): { p: FakeProcess; end: () => void };
}

function world(options: { killAllOnExit?: boolean; createdOnly?: boolean; publishFails?: Error } = {}): World {
  const monitor = new FakeMonitor();
  const trace: string[] = [];
  const errors: [string, unknown][] = [];
  /** What the tracker logged: [level, message, fields]. */
  const logged: [string, string, Fields | undefined][] = [];
  const tracker = new ExitTracker(
    monitor,
    (_c, p, exit) => {
      if (options.publishFails) throw options.publishFails;
      trace.push(`exit ${p.id} ${exit.status}`);
    },
    (message, err) => errors.push([message, err]),
    { warn: (message, fields) => logged.push(['warn', message, fields]), debug: (message, fields) => logged.push(['debug', message, fields]) },
  );
  const detach = tracker.attach();
  const init = new FakeProcess('c1', 'init', trace);
  const c = fakeContainer('c1', init, { killAllOnExit: options.killAllOnExit ?? false });

  // Create: the window opens before runc create, the pid is known after it, then the event.
  const create = tracker.beginCreate();
  init.pid = INIT_PID;
  trace.push('create');
  create.end(c, init);
  if (!options.createdOnly) {
    const start = tracker.beginStart(c, init);
    init.move('start');
    trace.push('start');
    start.end(c, init);
  }
  const exec = (id: string): FakeProcess => new FakeProcess(id, 'exec', trace);
  const openExec = (id: string, pid: number): { p: FakeProcess; end: () => void } => {
    const p = exec(id);
    const w = tracker.beginStart(c, p);
    p.pid = pid;
    p.move('start');
    return {
      p,
      end: () => {
        trace.push(`exec-started ${id}`);
        w.end(c, p);
      },
    };
  };
  const startExec = (id: string, pid: number): FakeProcess => {
    const { p, end } = openExec(id, pid);
    end();
    return p;
  };
  return { monitor, tracker, trace, errors, logged, init, c, detach, exec, startExec, openExec };
}

/** A tracker over a fresh monitor and a container not created yet (its init has no pid). */
function beforeCreate(): { monitor: FakeMonitor; trace: string[]; tracker: ExitTracker; init: FakeProcess; c: Container } {
  const monitor = new FakeMonitor();
  const trace: string[] = [];
  const tracker = new ExitTracker(monitor, (_c, p, e) => trace.push(`exit ${p.id} ${e.status}`), () => undefined);
  tracker.attach();
  const init = new FakeProcess('c1', 'init', trace);
  return { monitor, trace, tracker, init, c: fakeContainer('c1', init) };
}

describe('shim/task/exits: exited before start returned', () => {
  it('an init that exits while runc start runs is applied at window.end, after the start event', () => {
    const w = world({ createdOnly: true });
    const window = w.tracker.beginStart(w.c, w.init);
    w.monitor.deliver(INIT_PID, 0); // the init is gone before `runc start` returned
    assert.equal(w.init.exited.done, false, 'collected, not applied');
    assert.deepEqual(w.trace, ['create']);
    w.init.move('start');
    w.trace.push('start');
    window.end(w.c, w.init);
    assert.deepEqual(w.trace, ['create', 'start', 'exit c1 0']);
    assert.equal(w.init.state, 'stopped');
  });

  it('an init that exits during runc create is applied at the end of Create, after the create event', () => {
    const { monitor, trace, tracker, init, c } = beforeCreate();
    const window = tracker.beginCreate();
    monitor.deliver(INIT_PID, 1); // exits before its pid file was read
    init.pid = INIT_PID;
    trace.push('create');
    window.end(c, init);
    assert.deepEqual(trace, ['create', 'exit c1 1']);
  });

  it('an exec that exits before its pid is known is applied at window.end, after exec-started', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    w.monitor.deliver(200, 3); // in the subscription: nobody knows pid 200 yet
    assert.equal(e1.exited.done, false);
    e1.pid = 200;
    e1.move('start');
    w.trace.push('exec-started e1');
    window.end(w.c, e1);
    assert.deepEqual(w.trace, ['create', 'start', 'exec-started e1', 'exit e1 3']);
    assert.equal(e1.state, 'stopped');
  });

  it('an exec that died as runc returned, its SIGCHLD not handled yet, is reaped at window.end and applied with the start', () => {
    const w = world();
    const { p: e1, end } = w.openExec('e1', 200);
    w.monitor.die(200, 0); // a zombie: the loop has not run the SIGCHLD handler
    const before = w.monitor.reapNowCalls;
    end();
    assert.equal(w.monitor.reapNowCalls, before + 1);
    assert.deepEqual(w.trace, ['create', 'start', 'exec-started e1', 'exit e1 0']);
    assert.equal(e1.exited.done, true, 'Wait is answered with Start');
  });

  it('the init dying in the same batch as the exec: the exec’s exit first, then the init’s', () => {
    const w = world();
    const { end } = w.openExec('e1', 200);
    w.monitor.die(INIT_PID, 137);
    w.monitor.die(200, 0);
    end();
    assert.deepEqual(w.trace, ['create', 'start', 'exec-started e1', 'exit e1 0', 'exit c1 137']);
  });

  it('a create’s window does not reap: an init dead by then is left to the SIGCHLD handler, after Create', () => {
    const { monitor, trace, tracker, init, c } = beforeCreate();
    const window = tracker.beginCreate();
    init.pid = INIT_PID;
    monitor.die(INIT_PID, 1);
    trace.push('create');
    window.end(c, init);
    assert.equal(monitor.reapNowCalls, 0);
    assert.deepEqual(trace, ['create']);
    monitor.reapNow(); // the SIGCHLD handler, a turn later
    assert.deepEqual(trace, ['create', 'exit c1 1']);
  });

  it('a listener throwing while the window reaps is reported; the window still ends and registers the process', () => {
    const w = world();
    const { p: e1, end } = w.openExec('e1', 200);
    const off = w.monitor.onExit(() => {
      throw new Error('boom');
    });
    w.monitor.die(999, 0); // an orphan: the throwing listener stops the delivery
    end();
    off();
    assert.equal(w.errors.length, 1);
    assert.match(String(w.errors[0]?.[0]), /reaping at the end of a start/);
    assert.equal(w.monitor.openSubscriptions, 0, 'the window’s subscription is closed');
    w.monitor.deliver(200, 0);
    assert.equal(e1.exited.done, true, 'registered as running: its later exit is applied');
  });

  it('a start that failed (no pid) reaps nothing at window.end', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    const before = w.monitor.reapNowCalls;
    window.end(w.c, e1);
    assert.equal(w.monitor.reapNowCalls, before);
  });

  it('exits of other pids seen in a window are not applied to the starting process', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    w.monitor.deliver(999, 1); // an orphan of the container
    e1.pid = 200;
    e1.move('start');
    window.end(w.c, e1);
    assert.equal(e1.exited.done, false);
    w.monitor.deliver(200, 0);
    assert.equal(e1.exitStatus, 0);
    assert.equal(e1.exited.done, true);
  });

  it('a process whose start returned before it exited is registered and applied when reaped', () => {
    const w = world();
    const e1 = w.startExec('e1', 200);
    assert.equal(e1.exited.done, false);
    w.monitor.deliver(200, 7);
    assert.deepEqual(w.trace.slice(-2), ['exec-started e1', 'exit e1 7']);
  });

  it('an init whose runc start failed stays registered: its later exit is applied', () => {
    const w = world({ createdOnly: true });
    const window = w.tracker.beginStart(w.c, w.init);
    window.end(w.c, w.init); // start failed: still created, pid still 100
    w.monitor.deliver(INIT_PID, 137);
    assert.deepEqual(w.trace, ['create', 'exit c1 137']);
  });
});

describe('shim/task/exits: exactly one exit per process', () => {
  it('an exit delivered twice for a running process is applied and published once', () => {
    const w = world();
    w.monitor.deliver(INIT_PID, 0);
    w.monitor.deliver(INIT_PID, 0);
    assert.deepEqual(w.trace, ['create', 'start', 'exit c1 0']);
  });

  it('an exit collected twice in a start window is applied and published once', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    w.monitor.deliver(200, 1);
    w.monitor.deliver(200, 2);
    e1.pid = 200;
    e1.move('start');
    window.end(w.c, e1);
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), ['exit e1 1']);
  });

  // Regression (found by this test, fixed in shim/task/exits.ts, window.end → handleExit → execDone per collected exit): a duplicated
  // early exit decrements runningExecs twice, so the init's exit is released while exec e2 runs.
  it("a duplicated early exec exit does not release the init's exit while another exec runs", () => {
    const w = world();
    const e1 = w.exec('e1');
    const w1 = w.tracker.beginStart(w.c, e1);
    w.startExec('e2', 301);
    w.monitor.deliver(300, 0);
    w.monitor.deliver(300, 0); // the same pid reported twice (e.g. reused within the window)
    e1.pid = 300;
    e1.move('start');
    w1.end(w.c, e1);
    w.monitor.deliver(INIT_PID, 0);
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), ['exit e1 0'], 'init held: e2 still runs');
    w.monitor.deliver(301, 0);
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), ['exit e1 0', 'exit e2 0', 'exit c1 0']);
  });
});

describe('shim/task/exits: the init exit is published last', () => {
  it('holds the init exit while an exec runs and publishes it right after the exec exit', () => {
    const w = world();
    w.startExec('e1', 200);
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.exited.done, false, 'held');
    assert.equal(w.tracker.initExited(w.c), true, 'but known: no new exec may start');
    w.monitor.deliver(200, 137);
    assert.deepEqual(w.trace.slice(-2), ['exit e1 137', 'exit c1 0']);
    assert.equal(w.init.state, 'stopped');
  });

  it('waits for the last of several execs', () => {
    const w = world();
    w.startExec('e1', 201);
    w.startExec('e2', 202);
    w.startExec('e3', 203);
    w.monitor.deliver(INIT_PID, 0);
    w.monitor.deliver(202, 1);
    w.monitor.deliver(201, 2);
    assert.equal(w.init.exited.done, false);
    w.monitor.deliver(203, 3);
    assert.deepEqual(
      w.trace.filter((t) => t.startsWith('exit')),
      ['exit e2 1', 'exit e1 2', 'exit e3 3', 'exit c1 0'],
    );
  });

  it('an exec still starting holds the init exit; its failure to start (pid 0) releases it', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.exited.done, false, 'held while runc exec runs');
    e1.failedToStart();
    window.end(w.c, e1);
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), ['exit c1 0'], 'no exec exit is published');
  });

  it('a cancelled exec window releases the hold too', () => {
    const w = world();
    const window = w.tracker.beginStart(w.c, w.exec('e1'));
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.exited.done, false);
    window.cancel();
    assert.equal(w.init.exited.done, true);
  });

  it('an exec that exited before the init does not hold it', () => {
    const w = world();
    w.startExec('e1', 200);
    w.monitor.deliver(200, 0);
    w.monitor.deliver(INIT_PID, 0);
    assert.deepEqual(w.trace.slice(-2), ['exit e1 0', 'exit c1 0']);
  });

  it('initExited becomes true at reap, before the exit is applied, and is false before', () => {
    const w = world();
    assert.equal(w.tracker.initExited(w.c), false);
    w.startExec('e1', 200);
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.tracker.initExited(w.c), true);
    assert.equal(w.init.exited.done, false);
  });

  it('resumes a paused init before its exit is applied (so it can be deleted)', async () => {
    const w = world();
    w.init.move('pauseBegin', 'pauseEnd');
    w.monitor.deliver(INIT_PID, 137);
    await w.tracker.deliveriesDone();
    assert.deepEqual(w.trace.slice(-2), ['resumeAfterExit c1', 'exit c1 137']);
    assert.equal(w.init.resumeAfterExitCalls, 1);
  });

  it('rule 6: the resume runs in the init’s queue, after a pause in flight, and the exit only once it is done', async () => {
    const w = world();
    w.init.move('pauseBegin'); // pausing: `runc pause` runs in the queue
    const pausing = new Deferred<void>();
    const pause = w.init.queue.run(() => pausing.promise);
    const resuming = new Deferred<void>();
    w.init.resumeAfterExitResult = () => resuming.promise;
    w.monitor.deliver(INIT_PID, 137);
    await flushMicrotasks();
    assert.equal(w.init.resumeAfterExitCalls, 0, 'not beside the pause');
    w.init.move('pauseEnd');
    pausing.resolve();
    await pause;
    await flushMicrotasks();
    assert.equal(w.init.resumeAfterExitCalls, 1);
    assert.equal(w.init.exited.done, false, 'Wait is not answered while the container is still frozen');
    resuming.resolve();
    await w.tracker.deliveriesDone();
    assert.equal(w.init.exited.done, true);
    assert.deepEqual(w.trace.slice(-2), ['resumeAfterExit c1', 'exit c1 137']);
    assert.equal(w.init.resumeAfterExitCalls, 1, 'once');
  });

  it('deliveriesDone waits for an exit held for its output and then for its resume (rule 5, then 6)', async () => {
    const w = world();
    w.init.move('pauseBegin', 'pauseEnd');
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    const resuming = new Deferred<void>();
    w.init.resumeAfterExitResult = () => resuming.promise;
    w.monitor.deliver(INIT_PID, 137);
    let done = false;
    void w.tracker.deliveriesDone().then(() => (done = true));
    delivered.resolve({ delivered: true });
    await flushMicrotasks();
    assert.equal(w.init.resumeAfterExitCalls, 1, 'the output went: now the resume');
    assert.equal(done, false, 'the exit is still held');
    resuming.resolve();
    await flushMicrotasks();
    assert.equal(done, true);
    assert.deepEqual(w.trace.slice(-1), ['exit c1 137']);
  });

  it('rule 6: a paused container is resumed when its init is reaped, not once its execs have exited (frozen, they could not)', async () => {
    const w = world();
    w.startExec('e1', 200);
    w.init.move('pauseBegin', 'pauseEnd');
    w.monitor.deliver(INIT_PID, 137);
    await flushMicrotasks();
    assert.equal(w.init.resumeAfterExitCalls, 1, 'at the reap');
    assert.equal(w.init.exited.done, false, 'held for the exec (rule 2)');
    w.monitor.deliver(200, 137);
    await w.tracker.deliveriesDone();
    assert.deepEqual(w.trace.slice(-2), ['exit e1 137', 'exit c1 137']);
    assert.equal(w.init.resumeAfterExitCalls, 1, 'once');
  });

  it('does not resume a running init', () => {
    const w = world();
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.resumeAfterExitCalls, 0);
  });
});

describe('shim/task/exits: kill all on init exit (no private pid namespace)', () => {
  it('runs killAll before the init exit is applied', async () => {
    const w = world({ killAllOnExit: true });
    const killed = new Deferred();
    w.init.killAllResult = () => killed.promise;
    w.monitor.deliver(INIT_PID, 0);
    assert.deepEqual(w.trace.slice(-1), ['killAll c1']);
    assert.equal(w.init.exited.done, false, 'not applied while runc kill --all runs');
    assert.equal(w.tracker.initExited(w.c), true);
    killed.resolve();
    await flushMicrotasks();
    assert.deepEqual(w.trace.slice(-2), ['killAll c1', 'exit c1 0']);
    assert.equal(w.init.killAllCalls, 1);
  });

  it('a killAll failure is reported and the exit is still applied', async () => {
    const w = world({ killAllOnExit: true });
    const boom = new Error('runc kill --all failed');
    w.init.killAllResult = () => Promise.reject(boom);
    w.monitor.deliver(INIT_PID, 0);
    await flushMicrotasks();
    assert.deepEqual(w.errors, [['container c1: killing all processes after the init exited', boom]]);
    assert.deepEqual(w.trace.slice(-2), ['killAll c1', 'exit c1 0']);
  });

  it('with execs running: their exits come first, the init exit after both killAll and the last exec', async () => {
    const w = world({ killAllOnExit: true });
    w.startExec('e1', 200);
    const killed = new Deferred();
    w.init.killAllResult = () => killed.promise;
    w.monitor.deliver(INIT_PID, 0);
    killed.resolve();
    await flushMicrotasks();
    assert.equal(w.init.exited.done, false, 'killAll done, e1 not reaped yet');
    w.monitor.deliver(200, 137); // killed by the kill --all
    assert.deepEqual(w.trace.slice(-3), ['killAll c1', 'exit e1 137', 'exit c1 0']);
  });

  it('an exec reaped while killAll runs is published at once; the init waits for killAll', async () => {
    const w = world({ killAllOnExit: true });
    w.startExec('e1', 200);
    const killed = new Deferred();
    w.init.killAllResult = () => killed.promise;
    w.monitor.deliver(INIT_PID, 0);
    w.monitor.deliver(200, 137);
    assert.deepEqual(w.trace.slice(-2), ['killAll c1', 'exit e1 137']);
    killed.resolve();
    await flushMicrotasks();
    assert.deepEqual(w.trace.slice(-1), ['exit c1 0']);
  });

  it('does not kill all when the container has its own pid namespace', () => {
    const w = world({ killAllOnExit: false });
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.killAllCalls, 0);
    assert.deepEqual(w.trace.slice(-1), ['exit c1 0']);
  });
});

describe('shim/task/exits: the init output reaches its client before the exit', () => {
  it('with nothing in flight the exit is applied at once, in the reaper callback', () => {
    const w = world();
    w.monitor.deliver(INIT_PID, 0);
    assert.deepEqual(w.trace.slice(-1), ['exit c1 0']);
    assert.equal(w.init.inFlightCalls, 1);
  });

  it('output in flight holds the exit until it has been delivered, then applies it once', async () => {
    const w = world();
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    w.monitor.deliver(INIT_PID, 3);
    await flushMicrotasks();
    assert.equal(w.init.exited.done, false, 'held while the client reads');
    assert.equal(w.init.state, 'running');
    assert.equal(w.tracker.initExited(w.c), true, 'no new exec may start meanwhile');
    delivered.resolve(DELIVERED);
    await flushMicrotasks();
    assert.deepEqual(w.trace.slice(-1), ['exit c1 3']);
    assert.equal(w.init.inFlightCalls, 1, 'asked once: a wait that gave up is not started again');
    assert.equal(w.init.state, 'stopped');
  });

  it('comes after kill --all and after the last exec: the output is waited for once everything that may write is gone', async () => {
    const w = world({ killAllOnExit: true });
    const killed = new Deferred();
    w.init.killAllResult = () => killed.promise;
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    w.startExec('e1', 200);
    w.monitor.deliver(INIT_PID, 0);
    w.monitor.deliver(200, 0);
    assert.equal(w.init.inFlightCalls, 0, 'not while runc kill --all runs');
    killed.resolve();
    await flushMicrotasks();
    assert.deepEqual(w.trace.slice(-2), ['killAll c1', 'exit e1 0']);
    assert.equal(w.init.inFlightCalls, 1);
    assert.equal(w.init.exited.done, false);
    delivered.resolve(DELIVERED);
    await flushMicrotasks();
    assert.deepEqual(w.trace.slice(-1), ['exit c1 0']);
  });

  it('a wait that gave up is reported with what was left unread: a warning when the client had read, debug when none ever did; nothing when delivered', async () => {
    const gaveUp = async (outcome: DeliveryOutcome): Promise<World> => {
      const w = world();
      const delivered = new Deferred<DeliveryOutcome>();
      w.init.inFlightResult = () => delivered.promise;
      w.monitor.deliver(INIT_PID, 0);
      delivered.resolve(outcome);
      await w.tracker.deliveriesDone();
      assert.deepEqual(w.trace.slice(-1), ['exit c1 0'], 'the exit goes out all the same');
      return w;
    };
    const stalled = await gaveUp({ delivered: false, gaveUp: 'idle', waitedMs: 512, unread: 4096, clientRead: 65_536 });
    assert.deepEqual(stalled.logged, [['warn', "the init's exit goes out before its client read all its output", { task: 'c1', gaveUp: 'idle', waitedMs: 512, unread: 4096, clientRead: 65_536 }]]);
    const slow = await gaveUp({ delivered: false, gaveUp: 'limit', waitedMs: 5000, unread: 10, clientRead: 0 });
    assert.deepEqual(slow.logged.map(([level]) => level), ['warn']);
    const none = await gaveUp({ delivered: false, gaveUp: 'idle', waitedMs: 101, unread: 3, clientRead: 0 });
    assert.deepEqual(none.logged, [['debug', "the init's exit goes out with output no client read (none is reading)", { task: 'c1', gaveUp: 'idle', waitedMs: 101, unread: 3, clientRead: 0 }]]);
    assert.deepEqual((await gaveUp(DELIVERED)).logged, []);
  });

  it('a logger that throws while reporting changes nothing: the exit was applied, no rejection', async () => {
    const monitor = new FakeMonitor();
    const trace: string[] = [];
    const boom = (): never => {
      throw new Error('log closed');
    };
    const tracker = new ExitTracker(monitor, (_c, p, exit) => trace.push(`exit ${p.id} ${exit.status}`), () => undefined, { warn: boom, debug: boom });
    tracker.attach();
    const init = new FakeProcess('c1', 'init', trace);
    const c = fakeContainer('c1', init, { killAllOnExit: false });
    const create = tracker.beginCreate();
    init.pid = INIT_PID;
    create.end(c, init);
    const start = tracker.beginStart(c, init);
    init.move('start');
    start.end(c, init);
    init.inFlightResult = () => Promise.resolve({ delivered: false, gaveUp: 'idle', waitedMs: 500, unread: 1, clientRead: 1 });
    monitor.deliver(INIT_PID, 0);
    await tracker.deliveriesDone();
    assert.deepEqual(trace, ['exit c1 0']);
  });

  it('a container deleted while its exit was held: the exit reaches its waiters, with no event after the delete', async () => {
    const w = world({ createdOnly: true }); // a created init can be deleted after it was reaped
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    w.monitor.deliver(INIT_PID, 137);
    const waited = w.init.wait();
    w.tracker.forget(w.c);
    assert.equal((await waited).status, 137);
    delivered.resolve(DELIVERED);
    await flushMicrotasks();
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), [], 'no exit event');
  });

  it('a failure applying the exit after the wait is reported, not left as an unhandled rejection', async () => {
    const boom = new Error('queue closed');
    const w = world({ publishFails: boom });
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    w.monitor.deliver(INIT_PID, 0);
    delivered.resolve(DELIVERED);
    await w.tracker.deliveriesDone();
    assert.deepEqual(w.errors, [["container c1: applying the init's exit after its output", boom]]);
    assert.equal(w.init.exited.done, true, 'the exit itself was applied before publishing failed');
  });

  it('deliveriesDone resolves once every held exit has been applied (shutdown sends the events after it)', async () => {
    const w = world();
    const delivered = new Deferred<DeliveryOutcome>();
    w.init.inFlightResult = () => delivered.promise;
    w.monitor.deliver(INIT_PID, 0);
    let done = false;
    const all = w.tracker.deliveriesDone().then(() => (done = true));
    await flushMicrotasks();
    assert.equal(done, false);
    delivered.resolve(DELIVERED);
    await all;
    assert.deepEqual(w.trace.slice(-1), ['exit c1 0'], 'queued before deliveriesDone resolved');
  });
});

describe('shim/task/exits: bookkeeping', () => {
  it('forget drops the running pids of a deleted container', () => {
    const w = world();
    const e1 = w.startExec('e1', 200);
    w.tracker.forget(w.c);
    w.monitor.deliver(200, 0);
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(e1.exited.done, false);
    assert.equal(w.init.exited.done, false);
    assert.equal(w.tracker.initExited(w.c), false);
    assert.deepEqual(w.trace, ['create', 'start', 'exec-started e1']);
  });

  it('forget leaves other containers alone', () => {
    const w = world();
    const other = new FakeProcess('c2', 'init', w.trace);
    const c2 = fakeContainer('c2', other);
    const window = w.tracker.beginCreate();
    other.pid = 500;
    window.end(c2, other);
    w.tracker.forget(w.c);
    w.monitor.deliver(500, 4);
    assert.deepEqual(w.trace.slice(-1), ['exit c2 4']);
  });

  it('ignores exits of unknown pids (orphans of a container)', () => {
    const w = world();
    w.monitor.deliver(12345, 0);
    assert.deepEqual(w.trace, ['create', 'start']);
    assert.deepEqual(w.errors, []);
  });

  it('window.cancel closes the subscription and applies nothing', () => {
    const w = world();
    assert.equal(w.monitor.openSubscriptions, 0);
    const window = w.tracker.beginCreate();
    assert.equal(w.monitor.openSubscriptions, 1);
    w.monitor.deliver(INIT_PID + 1, 0);
    window.cancel();
    assert.equal(w.monitor.openSubscriptions, 0);
    window.cancel();
    assert.equal(w.monitor.openSubscriptions, 0, 'idempotent');
    assert.deepEqual(w.trace, ['create', 'start']);
  });

  it('window.end closes the subscription; a second end or a cancel after it does nothing', () => {
    const w = world();
    const e1 = w.exec('e1');
    const window = w.tracker.beginStart(w.c, e1);
    assert.equal(w.monitor.openSubscriptions, 1);
    e1.pid = 200;
    window.end(w.c, e1);
    assert.equal(w.monitor.openSubscriptions, 0);
    window.end(w.c, e1);
    window.cancel();
    w.monitor.deliver(INIT_PID, 0);
    w.monitor.deliver(200, 0);
    assert.deepEqual(w.trace.filter((t) => t.startsWith('exit')), ['exit e1 0', 'exit c1 0'], 'the exec was counted once');
  });

  it('detaching from the monitor stops routing exits', () => {
    const w = world();
    w.detach();
    w.monitor.deliver(INIT_PID, 0);
    assert.equal(w.init.exited.done, false);
  });
});
