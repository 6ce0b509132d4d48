/**
 * The Task API as containerd and `ctr shim` see it, spoken directly over ttrpc to the shim's
 * socket (where ctr has no verb): codes and messages of PROTOCOL §7.19, Connect, Wait, Pids and
 * Shutdown — for Go's shim and ours, with the same expectations.
 */
import assert from 'node:assert/strict';
import { Code } from 'ttrpc-ts';
import { Containerd, processesWithArgs } from '../helpers/containerd';
import { sharedRootfs } from '../helpers/rootfs';
import { RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { type TaskClient, connectTask, rpcError } from '../helpers/shim-client';
import { alive } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('Task API over ttrpc (real containerd + runc)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let rootfs: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    rootfs = sharedRootfs();
  });
  after(async () => {
    await ct?.stop();
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      let id: string;
      let task: TaskClient;
      let close: () => Promise<void>;

      beforeEach(async () => {
        id = uniqueId();
        await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', rootfs, id, '/bin/sh', '-c', 'trap "exit 3" TERM; sleep 1000 & wait']);
        ({ task, close } = await connectTask(ct.shimSocket(id)));
      });
      afterEach(async () => {
        await close();
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      });

      it('answers errors with containerd codes and the Go shim messages', async () => {
        // One call at a time: a rejection nobody awaits yet is Node's PromiseRejectionHandledWarning.
        const cases: [() => Promise<unknown>, number, string][] = [
          [() => task.state({ id: 'nope', execId: '' }), Code.NOT_FOUND, 'container not created: not found'],
          [() => task.state({ id, execId: 'x1' }), Code.NOT_FOUND, 'process does not exist x1: not found'],
          [() => task.start({ id, execId: '' }), Code.UNKNOWN, 'cannot start a running process'],
          [() => task.delete({ id, execId: '' }), Code.UNKNOWN, 'cannot delete a running process'],
          [() => task.delete({ id: 'nope', execId: '' }), Code.NOT_FOUND, 'container not created: not found'],
          [() => task.kill({ id, execId: 'x1', signal: 9, all: false }), Code.NOT_FOUND, 'process does not exist x1: not found'],
          [() => task.resume({ id }), Code.UNKNOWN, 'cannot resume a running process'],
          [() => task.wait({ id, execId: 'x1' }), Code.NOT_FOUND, 'process does not exist x1: not found'],
        ];
        for (const [call, code, message] of cases) {
          const err = await rpcError(call);
          assert.deepEqual({ code: err.code, message: err.message }, { code, message });
        }
      });

      it('Connect returns the shim and task pids; State reports RUNNING with the stdio paths', async () => {
        const connected = await task.connect({ id });
        assert.ok(alive(connected.shimPid));
        assert.ok(processesWithArgs(['-address', ct.address]).includes(connected.shimPid));
        const state = await task.state({ id, execId: '' });
        assert.equal(state.pid, connected.taskPid);
        assert.equal(state.status, 2);
        assert.equal(state.id, id);
        assert.equal(state.bundle, ct.bundle(id));
        assert.match(state.stdout, /-stdout$/);
        assert.equal(state.terminal, false);
        assert.equal(state.exitStatus, 0);
      });

      it('Pids lists the container processes; Kill, then Wait returns the status and Kill again is NotFound; Pids is then empty', async () => {
        const { taskPid } = await task.connect({ id });
        const pids = (await task.pids({ id })).processes.map((p) => p.pid);
        assert.equal(pids.length, 2);
        assert.ok(pids.includes(taskPid));
        const waiting = task.wait({ id, execId: '' });
        const stateDuring = task.state({ id, execId: '' }); // a blocked Wait does not hold up State
        assert.equal((await stateDuring).status, 2);
        await task.kill({ id, execId: '', signal: 15, all: false });
        const waited = await waiting;
        assert.equal(waited.exitStatus, 3);
        const after = await task.wait({ id, execId: '' });
        assert.equal(after.exitStatus, 3, 'Wait after the exit returns at once');
        const again = await rpcError(() => task.kill({ id, execId: '', signal: 9, all: false }));
        assert.deepEqual({ code: again.code, message: again.message }, { code: Code.NOT_FOUND, message: 'process already finished: not found' });
        const state = await task.state({ id, execId: '' });
        assert.equal(state.status, 3);
        assert.equal(state.exitStatus, 3);
        assert.deepEqual((await task.pids({ id })).processes, [], 'no processes once the init exited (runc ps prints null)');
      });

      it('Shutdown keeps the shim while it holds the container, and ends it once the container is deleted', async () => {
        const { shimPid } = await task.connect({ id });
        await task.shutdown({ id, now: false });
        assert.ok(alive(shimPid), 'a shim holding a container does not exit');
        await task.kill({ id, execId: '', signal: 9, all: true });
        await task.wait({ id, execId: '' });
        const deleted = await task.delete({ id, execId: '' });
        assert.equal(deleted.exitStatus, 137);
        await task.shutdown({ id, now: false }).catch(() => undefined); // the connection may close first
        await waitFor(() => ct.shimEnded(shimPid), { what: 'the shim to exit (ours: or be the spare again) after Shutdown' });
      });

      it('answers an unknown method and service with Unimplemented', async () => {
        const { client } = await connectTask(ct.shimSocket(id));
        try {
          const m = await rpcError(() => client.call('containerd.task.v2.Task', 'Nope', new Uint8Array(0)));
          assert.deepEqual({ code: m.code, message: m.message }, { code: Code.UNIMPLEMENTED, message: 'method Nope' });
          const s = await rpcError(() => client.call('no.such.Service', 'State', new Uint8Array(0)));
          assert.deepEqual({ code: s.code, message: s.message }, { code: Code.UNIMPLEMENTED, message: 'service no.such.Service' });
        } finally {
          await client.close();
        }
      });
    });
  }
});
