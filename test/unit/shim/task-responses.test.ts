/**
 * What the task layer says about processes: State/Wait/Delete responses (PROTOCOL §7.3, §7.4,
 * §7.14; Go's zero time until a process exited) and the task events it queues (PROTOCOL §8.2:
 * exact type URLs and fields, decoded with the generated codecs).
 */
import assert from 'node:assert/strict';
import { type OutgoingEvent, type EventQueue } from '../../../shim/events/queue';
import { nowNs } from '../../../shim/reaper';
import { TaskEvents } from '../../../shim/task/events';
import { deleteResponse, exitTime, stateResponse, waitResponse } from '../../../shim/task/responses';
import { GO_ZERO_TIME_SECONDS, timestampToNanos, toBigInt, unpackEvent } from '../../../proto';
import { FakeProcess, fakeContainer } from './fakes';

const STDIO = { stdin: '/run/fifo/in', stdout: '/run/fifo/out', stderr: '/run/fifo/err', terminal: false };

function isGoZero(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): boolean {
  return ts !== null && ts !== undefined && toBigInt(ts.seconds as Parameters<typeof toBigInt>[0]) === GO_ZERO_TIME_SECONDS && (ts.nanos ?? 0) === 0;
}

describe('shim/task/responses', () => {
  it('State of a running init: its own fields, status RUNNING, Go zero exit time', () => {
    const init = new FakeProcess('c1', 'init', [], 'running', STDIO);
    init.pid = 4242;
    const c = fakeContainer('c1', init, { bundle: '/run/b/c1' });
    const r = stateResponse(c, init);
    assert.deepEqual({ ...r, exitedAt: undefined }, {
      id: 'c1',
      bundle: '/run/b/c1',
      pid: 4242,
      status: 2,
      stdin: '/run/fifo/in',
      stdout: '/run/fifo/out',
      stderr: '/run/fifo/err',
      terminal: false,
      exitStatus: 0,
      exitedAt: undefined,
      execId: '',
    });
    assert.ok(isGoZero(r.exitedAt), '0001-01-01T00:00:00Z until exited');
  });

  it('State of an exec reports its exec id as id, and PAUSED while its container is paused', () => {
    const init = new FakeProcess('c1', 'init', [], 'paused');
    const exec = new FakeProcess('e1', 'exec', [], 'running', { ...STDIO, terminal: true });
    exec.pid = 77;
    const r = stateResponse(fakeContainer('c1', init), exec);
    assert.deepEqual([r.id, r.pid, r.status, r.terminal, r.execId], ['e1', 77, 4, true, '']);
  });

  it('after the exit: status STOPPED, the exit status and time (to the nanosecond)', () => {
    const init = new FakeProcess('c1', 'init', [], 'running');
    init.setExited({ pid: 1, status: 137, signal: 9, at: 1795377560414523717n });
    const r = stateResponse(fakeContainer('c1', init), init);
    assert.equal(r.status, 3);
    assert.equal(r.exitStatus, 137);
    assert.equal(timestampToNanos(r.exitedAt), 1795377560414523717n);
    assert.deepEqual(waitResponse(init), { exitStatus: 137, exitedAt: r.exitedAt });
    assert.deepEqual(deleteResponse(init), { pid: 0, exitStatus: 137, exitedAt: r.exitedAt });
  });

  it('a process that failed to start (exit time 0) reports Go zero time, status 0', () => {
    const exec = new FakeProcess('e1', 'exec');
    exec.failedToStart();
    assert.ok(isGoZero(exitTime(exec)));
    assert.equal(waitResponse(exec).exitStatus, 0);
    assert.ok(isGoZero(waitResponse(exec).exitedAt));
  });

  it('a deleted init reports STOPPED with its exit', () => {
    const init = new FakeProcess('c1', 'init', [], 'running');
    init.setExited({ pid: 1, status: 3, at: 5n });
    init.move('delete');
    assert.equal(stateResponse(fakeContainer('c1', init), init).status, 3);
  });
});

describe('shim/task/events: what is queued for containerd', () => {
  let queued: OutgoingEvent[];
  let events: TaskEvents;
  let init: FakeProcess;
  beforeEach(() => {
    queued = [];
    const queue = { publish: (topic: string, typeUrl: string, value: Uint8Array, timestamp: bigint) => queued.push({ topic, typeUrl, value, timestamp }) };
    events = new TaskEvents(queue as unknown as EventQueue);
    init = new FakeProcess('c1', 'init', [], 'running', STDIO);
    init.pid = 4242;
  });

  function only(): { topic: string; typeUrl: string; event: Record<string, unknown>; timestamp: bigint } {
    assert.equal(queued.length, 1);
    const q = queued[0];
    assert.ok(q);
    const { topic, event } = unpackEvent({ typeUrl: q.typeUrl, value: q.value }, q.topic);
    return { topic, typeUrl: q.typeUrl, event: event as unknown as Record<string, unknown>, timestamp: q.timestamp };
  }

  it('stamps every event with the current time (containerd refuses a zero timestamp)', () => {
    const before = nowNs();
    events.paused(fakeContainer('c1', init));
    const after = nowNs();
    const t = queued[0]?.timestamp ?? 0n;
    assert.ok(t >= before && t <= after, `${before} <= ${t} <= ${after}`);
  });

  it('/tasks/create carries bundle, io, rootfs, checkpoint and pid', () => {
    events.create(fakeContainer('c1', init, { bundle: '/run/b/c1' }), [{ type: 'overlay', source: 'overlay', target: '', options: ['ro'] }], '/ck');
    const e = only();
    assert.deepEqual([e.topic, e.typeUrl], ['/tasks/create', 'containerd.events.TaskCreate']);
    assert.equal(e.event['containerId'], 'c1');
    assert.equal(e.event['bundle'], '/run/b/c1');
    assert.equal(e.event['pid'], 4242);
    assert.equal(e.event['checkpoint'], '/ck');
    const io = e.event['io'] as { stdin: string; stdout: string; stderr: string; terminal: boolean };
    assert.deepEqual([io.stdin, io.stdout, io.stderr, io.terminal], ['/run/fifo/in', '/run/fifo/out', '/run/fifo/err', false]);
    const rootfs = e.event['rootfs'] as { type: string; options: string[] }[];
    assert.deepEqual([rootfs[0]?.type, rootfs[0]?.options], ['overlay', ['ro']]);
  });

  it('/tasks/start', () => {
    events.start(fakeContainer('c1', init));
    const e = only();
    assert.deepEqual([e.topic, e.typeUrl, e.event['containerId'], e.event['pid']], ['/tasks/start', 'containerd.events.TaskStart', 'c1', 4242]);
  });

  it('/tasks/exit of an init: id = container id, the exit status and time', () => {
    events.exit(fakeContainer('c1', init), init, { pid: 4242, status: 137, at: 1795377560414523717n });
    const e = only();
    assert.deepEqual([e.topic, e.typeUrl, e.event['containerId'], e.event['id'], e.event['pid'], e.event['exitStatus']], ['/tasks/exit', 'containerd.events.TaskExit', 'c1', 'c1', 4242, 137]);
    assert.equal(timestampToNanos(e.event['exitedAt'] as Parameters<typeof timestampToNanos>[0]), 1795377560414523717n);
  });

  it('/tasks/exit of an exec: id = exec id', () => {
    const exec = new FakeProcess('e1', 'exec', [], 'running');
    exec.pid = 28434;
    events.exit(fakeContainer('c1', init), exec, { pid: 28434, status: 3, at: 1n });
    const e = only();
    assert.deepEqual([e.event['containerId'], e.event['id'], e.event['pid'], e.event['exitStatus']], ['c1', 'e1', 28434, 3]);
  });

  it('/tasks/delete of the init: its exit, id empty', () => {
    init.setExited({ pid: 4242, status: 2, at: 1795377560000000000n });
    events.delete(fakeContainer('c1', init));
    const e = only();
    assert.deepEqual([e.topic, e.typeUrl, e.event['containerId'], e.event['pid'], e.event['exitStatus'], e.event['id']], ['/tasks/delete', 'containerd.events.TaskDelete', 'c1', 4242, 2, '']);
    assert.equal(timestampToNanos(e.event['exitedAt'] as Parameters<typeof timestampToNanos>[0]), 1795377560000000000n);
  });

  it('exec-added, exec-started, paused, resumed, oom, checkpointed', () => {
    const c = fakeContainer('c1', init);
    const exec = new FakeProcess('e1', 'exec', [], 'running');
    exec.pid = 9;
    events.execAdded(c, 'e1');
    events.execStarted(c, exec);
    events.paused(c);
    events.resumed(c);
    events.oom('c1');
    events.checkpointed(c, '/ck/1');
    const decoded = queued.map((q) => {
      const { topic, event } = unpackEvent({ typeUrl: q.typeUrl, value: q.value }, q.topic);
      return [topic, q.typeUrl, { ...(event as object) }];
    });
    assert.deepEqual(decoded, [
      ['/tasks/exec-added', 'containerd.events.TaskExecAdded', { containerId: 'c1', execId: 'e1' }],
      ['/tasks/exec-started', 'containerd.events.TaskExecStarted', { containerId: 'c1', execId: 'e1', pid: 9 }],
      ['/tasks/paused', 'containerd.events.TaskPaused', { containerId: 'c1' }],
      ['/tasks/resumed', 'containerd.events.TaskResumed', { containerId: 'c1' }],
      ['/tasks/oom', 'containerd.events.TaskOOM', { containerId: 'c1' }],
      ['/tasks/checkpointed', 'containerd.events.TaskCheckpointed', { containerId: 'c1', checkpoint: '/ck/1' }],
    ]);
  });

  it('queues in call order', () => {
    const c = fakeContainer('c1', init);
    events.create(c, [], '');
    events.start(c);
    events.exit(c, init, { pid: 4242, status: 0, at: 1n });
    events.delete(c);
    assert.deepEqual(
      queued.map((q) => q.topic),
      ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'],
    );
  });
});
