/**
 * Signals to our shim daemon, run by hand (no containerd: containerd would react to the daemon's
 * exit by running `delete`, which kills the container) with real containers and a fake events
 * endpoint on TTRPC_ADDRESS:
 *  - SIGTERM and SIGINT shut it down gracefully: it exits, its containers keep running, its socket
 *    is removed — also while a client holds a Wait in flight, as containerd always does;
 *  - SIGHUP and SIGPIPE are ignored; SIGUSR1 writes a diagnostic report FILE (0600, JSON) named in
 *    the log, and opens no inspector;
 *  - shutdown sends every queued event, in order, before the daemon exits: with a slow endpoint,
 *    and with an endpoint that is down when SIGTERM arrives and comes back within the 5 s budget.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { OCI_PROCESS_TYPE_URL, Status, packJson } from '../../proto';
import { type HandShim, drainLog, startHandShim } from '../helpers/hand-shim';
import { type TaskClient, connectTask } from '../helpers/shim-client';
import { SIG, caughtSignals, exited, figures, ignoredSignals, listeningTcp, unixSocketsOf } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const EXEC_PROCESS = { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['/bin/true'] };
const ORDER = ['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit'];

describe('reliability: signals to the shim daemon (ours, run by hand with real containers)', function () {
  this.timeout(60_000);
  const shims: HandShim[] = [];

  before(function () {
    requireSystem(this, ['runc']);
  });
  afterEach(async () => {
    for (const s of shims.splice(0)) await s.stop();
  });

  /** A daemon holding one running container; returns the container's init pid too. */
  async function running(options: { eventsUp?: boolean } = {}): Promise<{ shim: HandShim; task: TaskClient; close: () => Promise<void>; initPid: number }> {
    const shim = await startHandShim(['/bin/sleep', '1000'], options);
    shims.push(shim);
    const { task, close } = await connectTask(shim.bundle.socket);
    await task.create(shim.createRequest(shim.bundle.id, shim.bundle.bundle));
    const { pid } = await task.start({ id: shim.bundle.id, execId: '' });
    return { shim, task, close, initPid: pid };
  }

  /** Exec + start of a short exec: queues exec-added, exec-started and (soon) its exit. */
  async function shortExec(task: TaskClient, id: string, execId: string): Promise<void> {
    await task.exec({ id, execId, terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, EXEC_PROCESS) });
    await task.start({ id, execId });
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} shuts the daemon down: it exits, the container keeps running, the socket is removed`, async () => {
      const { shim, close, initPid } = await running();
      await close();
      const t0 = Date.now();
      process.kill(shim.pid, signal);
      await waitFor(() => exited(shim.pid), { what: `the daemon to exit on ${signal}`, timeoutMs: 10_000 });
      figures(signal, { exitMs: Date.now() - t0 });
      assert.ok(!exited(initPid), 'the container outlives its shim');
      assert.equal(existsSync(shim.bundle.socket), false, 'the socket is removed');
      assert.match(drainLog(shim.bundle), new RegExp(`${signal}: shutting down`));
    });
  }

  // Regression (found by this test, fixed): the 'stop serving' shutdown step (shim/manager/serve.ts registerCleanups → Server.shutdown)
  // waits for every in-flight call, and a Wait returns only when its process exits: the daemon stays
  // up, listener closed, until every container exits. Go's shim exits at once (measured: 10 ms).
  it('SIGTERM shuts the daemon down even while a client holds a Wait in flight', async () => {
    const { shim, task, close, initPid } = await running();
    const waiting = task.wait({ id: shim.bundle.id, execId: '' }).then(
      () => 'answered',
      () => 'failed',
    );
    // a second call proves the Wait is in the daemon's hands before the signal
    await task.state({ id: shim.bundle.id, execId: '' });
    const t0 = Date.now();
    process.kill(shim.pid, 'SIGTERM');
    try {
      await waitFor(() => exited(shim.pid), { what: 'the daemon to exit on SIGTERM with a Wait in flight', timeoutMs: 10_000 });
    } finally {
      await close();
    }
    figures('SIGTERM with a Wait in flight', { exitMs: Date.now() - t0, wait: await waiting });
    assert.ok(!exited(initPid), 'the container outlives its shim');
    assert.equal(existsSync(shim.bundle.socket), false, 'the socket is removed');
  });

  it('ignores SIGHUP and SIGPIPE (still serving, same pid)', async () => {
    const { shim, task, close } = await running();
    try {
      assert.ok(ignoredSignals(shim.pid).has(SIG.PIPE) || caughtSignals(shim.pid).has(SIG.PIPE), 'SIGPIPE ignored or handled');
      assert.ok(caughtSignals(shim.pid).has(SIG.HUP) || ignoredSignals(shim.pid).has(SIG.HUP), 'SIGHUP ignored or handled');
      for (let i = 0; i < 5; i++) {
        process.kill(shim.pid, 'SIGHUP');
        process.kill(shim.pid, 'SIGPIPE');
      }
      assert.equal((await task.state({ id: shim.bundle.id, execId: '' })).status, 2);
      assert.equal((await task.connect({ id: shim.bundle.id })).shimPid, shim.pid);
      assert.ok(!exited(shim.pid));
    } finally {
      await close();
    }
  });

  it('SIGUSR1 writes a diagnostic report file (0600, JSON) that the log names, and opens no inspector', async () => {
    const { shim, close } = await running();
    await close();
    drainLog(shim.bundle);
    const portsBefore = new Set(listeningTcp(shim.pid).map((p) => p.port));
    const socketsBefore = unixSocketsOf(shim.pid).filter((s) => s.listening).length;
    process.kill(shim.pid, 'SIGUSR1');
    let log = '';
    const line = await waitFor(() => {
      log += drainLog(shim.bundle);
      return /msg="diagnostic report \(SIGUSR1\)".* report=(\S+)/.exec(log);
    }, { what: 'the report line in the log' });
    const path = line[1] ?? '';
    try {
      const st = statSync(path);
      assert.equal(st.mode & 0o777, 0o600, 'the report is readable by root only (it holds the environment)');
      const report = JSON.parse(readFileSync(path, 'utf8')) as { header?: { processId?: number }; javascriptStack?: unknown; libuv?: unknown };
      assert.equal(report.header?.processId, shim.pid);
      assert.ok(report.javascriptStack !== undefined && Array.isArray(report.libuv), 'a full Node report');
    } finally {
      if (existsSync(path)) unlinkSync(path);
    }
    assert.deepEqual(listeningTcp(shim.pid).filter((p) => !portsBefore.has(p.port)).map((p) => p.port), [], 'no new TCP listener (no inspector on 9229)');
    assert.equal(unixSocketsOf(shim.pid).filter((s) => s.listening).length, socketsBefore, 'no new listening socket');
    const again = await connectTask(shim.bundle.socket);
    assert.equal((await again.task.connect({ id: shim.bundle.id })).shimPid, shim.pid, 'still serving');
    await again.close();
  });

  it('shutdown sends every queued event, in order, before exit (slow endpoint: each Forward answered after 300 ms)', async () => {
    const { shim, task, close } = await running();
    // create and start were sent already; slow the endpoint, then queue exec-added, exec-started, exit
    await waitFor(() => shim.events.topics().length >= 2, { what: 'create and start to be sent' });
    shim.events.delayMs = 300;
    const aliveAtReply: boolean[] = [];
    shim.events.beforeReply = () => aliveAtReply.push(!exited(shim.pid));
    await shortExec(task, shim.bundle.id, 'x1');
    await shortExec(task, shim.bundle.id, 'x2');
    await close();
    // both execs are /bin/true: wait until their exits are queued (State says STOPPED)
    const check = await connectTask(shim.bundle.socket);
    await waitFor(async () => (await check.task.state({ id: shim.bundle.id, execId: 'x2' })).status === Status.STOPPED && (await check.task.state({ id: shim.bundle.id, execId: 'x1' })).status === Status.STOPPED, { what: 'both execs to exit' });
    await check.close();
    const t0 = Date.now();
    process.kill(shim.pid, 'SIGTERM');
    await waitFor(() => exited(shim.pid), { what: 'the daemon to exit', timeoutMs: 10_000 });
    const topics = shim.events.topics();
    figures('slow endpoint', { exitMs: Date.now() - t0, events: topics.length });
    assert.deepEqual(topics.slice(0, 2), ORDER.slice(0, 2));
    for (const x of ['x1', 'x2']) {
      const mine = shim.events.received.filter((e) => e.process === x).map((e) => e.topic);
      assert.deepEqual(mine, ORDER.slice(2), `${x}: exec-added, exec-started, exit, in order (all: ${topics.join(' ')})`);
    }
    assert.equal(topics.length, 8, 'nothing else, nothing twice');
    assert.ok(aliveAtReply.every(Boolean), 'the daemon waited for the answer to every event before it exited');
  });

  it('shutdown sends every queued event before exit when the endpoint is down at SIGTERM and back within the 5 s budget', async () => {
    const { shim, task, close, initPid } = await running({ eventsUp: false });
    await shortExec(task, shim.bundle.id, 'x1');
    const check = await connectTask(shim.bundle.socket);
    await waitFor(async () => (await check.task.state({ id: shim.bundle.id, execId: 'x1' })).status === Status.STOPPED, { what: 'the exec to exit' });
    await check.close();
    await close();
    assert.deepEqual(shim.events.topics(), [], 'nothing delivered while the endpoint is down');
    process.kill(shim.pid, 'SIGTERM');
    // containerd is "restarting" for the first second of the shim's shutdown
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(!exited(shim.pid), 'the daemon waits for its events');
    await shim.events.up();
    await waitFor(() => exited(shim.pid), { what: 'the daemon to exit', timeoutMs: 10_000 });
    assert.deepEqual(shim.events.topics(), ORDER, 'every queued event, in order');
    assert.ok(!exited(initPid), 'the container keeps running');
  });

  it('SIGTERM with the endpoint gone for good: the daemon still exits, within the 5 s event budget', async () => {
    const { shim, task, close, initPid } = await running({ eventsUp: false });
    await shortExec(task, shim.bundle.id, 'x1');
    await close();
    const t0 = Date.now();
    process.kill(shim.pid, 'SIGTERM');
    await waitFor(() => exited(shim.pid), { what: 'the daemon to exit', timeoutMs: 15_000 });
    const ms = Date.now() - t0;
    figures('SIGTERM, endpoint gone', { exitMs: ms });
    assert.ok(ms < 8000, `gave up on the events after the budget (${ms} ms)`);
    assert.equal(existsSync(shim.bundle.socket), false, 'the socket is removed');
    assert.ok(!exited(initPid), 'the container keeps running');
  });
});
