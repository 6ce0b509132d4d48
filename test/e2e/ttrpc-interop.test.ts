/**
 * ttrpc-ts against real Go peers (containerd/ttrpc 1.1.1 inside containerd 1.6.20):
 *  1. our client calls containerd.task.v2.Task State, Pids and Connect on a Go shim's socket;
 *  2. our client publishes a TaskExit-shaped event on containerd's own ttrpc endpoint (Events/Forward,
 *     the shims' route) and `ctr events` shows it — so the envelope, the Any and the metadata are right;
 *  3. containerd's endpoint refuses a peer of another uid, as ours do (§3.3).
 * (Go's client against our server: ttrpc/test/interop.test.ts, `ctr shim … state`.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Client, Code, isRpcError } from 'ttrpc-ts';
import { EventsServiceDefinition, TOPICS, packEvent, toTimestamp } from '../../proto';
import { Containerd } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { requireSystem } from '../helpers/system';

describe('ttrpc-ts interop with Go peers (real containerd)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let events: EventWatcher;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'setpriv']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
  });

  it('our client gets the right State, Pids and Connect answers from a Go shim', async () => {
    const id = uniqueId();
    await ct.ctrOk(['run', '-d', '--runtime', GO_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', 'sleep 1000 & wait']);
    const listed = (await ct.ctrOk(['task', 'ls'])).split('\n').find((l) => l.startsWith(`${id} `)) ?? '';
    const taskPid = Number(listed.trim().split(/\s+/)[1]);
    const { task, close } = await connectTask(ct.shimSocket(id));
    try {
      const state = await task.state({ id, execId: '' });
      assert.equal(state.id, id);
      assert.equal(state.pid, taskPid);
      assert.equal(state.status, 2);
      assert.equal(state.bundle, ct.bundle(id));
      const pids = (await task.pids({ id })).processes.map((p) => p.pid);
      assert.equal(pids.length, 2);
      assert.ok(pids.includes(taskPid));
      const connected = await task.connect({ id });
      assert.equal(connected.taskPid, taskPid);
      assert.ok(ct.shimPids().includes(connected.shimPid));
    } finally {
      await close();
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
    }
  });

  it('our client publishes a TaskExit on containerd’s ttrpc endpoint and `ctr events` shows it', async () => {
    const client = await Client.connect(ct.ttrpcAddress);
    try {
      const event = packEvent(TOPICS.TaskExit, { containerId: 'interop', id: 'interop', pid: 4242, exitStatus: 7, exitedAt: toTimestamp(1_800_000_000_123_456_789n) });
      await client.service(EventsServiceDefinition).forward(
        { envelope: { timestamp: toTimestamp(BigInt(Date.now()) * 1_000_000n), namespace: ct.namespace, topic: TOPICS.TaskExit, event } },
        { timeout: 5000, metadata: { 'containerd-namespace-ttrpc': ct.namespace } },
      );
      await events.until((all) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === 'interop'), 'the forwarded event');
      const seen = events.forContainer('interop')[0];
      assert.equal(seen?.namespace, ct.namespace);
      assert.deepEqual(seen?.event, { container_id: 'interop', id: 'interop', pid: 4242, exit_status: 7, exited_at: '2027-01-15T08:00:00.123456789Z' });

      // containerd validates the envelope as our supervisor does: a zero timestamp is INVALID_ARGUMENT
      const refused = await client
        .service(EventsServiceDefinition)
        .forward({ envelope: { namespace: ct.namespace, topic: TOPICS.TaskExit, event } }, { timeout: 5000 })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      assert.ok(isRpcError(refused));
      assert.equal(refused.code, Code.INVALID_ARGUMENT);
      assert.match(refused.message, /timestamp must be set/);
    } finally {
      await client.close();
    }
  });

  it('containerd’s endpoint refuses a peer of another uid, as ours do', async () => {
    const out = await new Promise<string>((resolve) => {
      const child = spawn('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', process.execPath, '-e', `
        const s = require('net').connect(${JSON.stringify(ct.ttrpcAddress)});
        s.on('error', (e) => process.stdout.write('error ' + e.code));
        s.on('close', () => process.stdout.write(' closed'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', () => resolve(text));
    });
    assert.match(out, /EACCES|closed/);
  });
});
