/**
 * Exec and its Start (shim part 2) under real containerd + runc: output and exit code, unique ids,
 * events, Pids with exec ids, deleting a never-started exec, failures, long argv — for Go's shim
 * and ours; the refusal after the init exited and the fd count over many cycles for ours.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from 'ttrpc-ts';
import { OCI_PROCESS_TYPE_URL, packJson, runcOptions } from '../../proto';
import { Containerd } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { type TaskClient, connectTask, rpcError } from '../helpers/shim-client';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const PROCESS = { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'], args: ['/bin/sleep', '1000'] };

describe('exec (real containerd + runc)', function () {
  this.timeout(90_000);
  let ct: Containerd;
  let events: EventWatcher;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      let id: string;
      let task: TaskClient;
      let close: () => Promise<void>;

      beforeEach(async () => {
        id = uniqueId();
        await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
        ({ task, close } = await connectTask(ct.shimSocket(id)));
      });
      afterEach(async () => {
        await close();
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      });

      it('`ctr task exec` returns the output and the exit code, with exec-added, exec-started and exit events', async () => {
        const r = await ct.ctr(['task', 'exec', '--exec-id', 'x1', id, '/bin/sh', '-c', 'echo out; echo err >&2; exit 5']);
        assert.equal(r.code, 5);
        assert.equal(r.stdout, 'out\n');
        assert.equal(r.stderr, 'err\n');
        await events.until((all) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === id && e.event['id'] === 'x1'), 'the exec exit');
        const seen = events.forContainer(id).filter((e) => e.event['exec_id'] === 'x1' || e.event['id'] === 'x1');
        assert.deepEqual(
          seen.map((e) => e.topic),
          ['/tasks/exec-added', '/tasks/exec-started', '/tasks/exit'],
        );
        assert.equal(seen[1]?.event['pid'], seen[2]?.event['pid']);
        assert.equal(seen[2]?.event['exit_status'], 5);
      });

      it('refuses a duplicate exec id with AlreadyExists', async () => {
        await ct.ctrOk(['task', 'exec', '--detach', '--exec-id', 'dup', id, '/bin/sleep', '1000']);
        const r = await ct.ctr(['task', 'exec', '--exec-id', 'dup', id, '/bin/true']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /id dup: already exists/);
      });

      it('lists execs in Pids with their ids (ProcessDetails)', async () => {
        await ct.ctrOk(['task', 'exec', '--detach', '--exec-id', 'ps1', id, '/bin/sleep', '1000']);
        const processes = (await task.pids({ id })).processes;
        assert.equal(processes.length, 2);
        const withInfo = processes.filter((p) => p.info);
        assert.equal(withInfo.length, 1);
        assert.equal(withInfo[0]?.info?.typeUrl, 'containerd.runc.v1.ProcessDetails');
        assert.equal(runcOptions.ProcessDetails.decode(withInfo[0]?.info?.value ?? new Uint8Array(0)).execId, 'ps1');
        assert.match(await ct.ctrOk(['task', 'ps', id]), /\bps1\b/, 'ctr task ps decodes the info');
      });

      it('deletes an exec that was created but never started, without an event', async () => {
        await task.exec({ id, execId: 'never', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, PROCESS) });
        const state = await task.state({ id, execId: 'never' });
        assert.equal(state.status, 1, 'CREATED');
        assert.equal(state.pid, 0);
        const killed = await rpcError(() => task.kill({ id, execId: 'never', signal: 9, all: false }));
        assert.deepEqual({ code: killed.code, message: killed.message }, { code: Code.FAILED_PRECONDITION, message: 'process not created: failed precondition' });
        const deleted = await task.delete({ id, execId: 'never' });
        assert.equal(deleted.pid, 0);
        const gone = await rpcError(() => task.state({ id, execId: 'never' }));
        assert.equal(gone.code, Code.NOT_FOUND);
      });

      it('kills a running exec by signal; its Wait and State report 128+signal; Kill again is NotFound', async () => {
        await task.exec({ id, execId: 'k1', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, PROCESS) });
        const started = await task.start({ id, execId: 'k1' });
        assert.ok(started.pid > 0);
        const waiting = task.wait({ id, execId: 'k1' });
        await task.kill({ id, execId: 'k1', signal: 9, all: false });
        assert.equal((await waiting).exitStatus, 137);
        assert.equal((await task.state({ id, execId: 'k1' })).status, 3, 'STOPPED');
        const again = await rpcError(() => task.kill({ id, execId: 'k1', signal: 9, all: false }));
        assert.equal(again.code, Code.NOT_FOUND);
        await task.delete({ id, execId: 'k1' });
      });

      it('fails cleanly for a binary that does not exist, with no exit event', async () => {
        const r = await ct.ctr(['task', 'exec', '--exec-id', 'nx', id, '/does/not/exist']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /OCI runtime exec failed/);
        assert.equal(
          events.forContainer(id).filter((e) => e.topic === '/tasks/exit' && e.event['id'] === 'nx').length,
          0,
        );
      });

      it('lets a Start that failed before anything ran (its binary:// logger missing) be tried again', async () => {
        const dir = mkdtempSync('/tmp/tsrunc-exec-retry-');
        const logger = join(dir, 'logger');
        const out = join(dir, 'out');
        try {
          const stdio = `binary://${logger}`;
          await task.exec({ id, execId: 'r1', terminal: false, stdin: '', stdout: stdio, stderr: stdio, spec: packJson(OCI_PROCESS_TYPE_URL, { ...PROCESS, args: ['/bin/echo', 'retried'] }) });
          await rpcError(() => task.start({ id, execId: 'r1' }));
          assert.equal((await task.state({ id, execId: 'r1' })).status, 1, 'still CREATED');
          writeFileSync(logger, `#!/bin/sh\nexec 5>&-\nexec /bin/cat <&3 >${out}\n`, { mode: 0o755 });
          const started = await task.start({ id, execId: 'r1' });
          assert.ok(started.pid > 0);
          assert.equal((await task.wait({ id, execId: 'r1' })).exitStatus, 0);
          await task.delete({ id, execId: 'r1' });
          // Go's Delete does not wait for the logger to end (shim-binary-log.test.ts)
          await waitFor(() => existsSync(out) && readFileSync(out, 'utf8') === 'retried\n', { what: 'the retried exec’s output in the log', timeoutMs: 5000 });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('passes a very long argv through', async () => {
        const words = Array.from({ length: 2000 }, (_, i) => `arg${i}`);
        const r = await ct.ctr(['task', 'exec', '--exec-id', 'long', id, '/bin/echo', ...words]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${words.join(' ')}\n`);
      });
    });
  }

  describe(label(OUR_RUNTIME), () => {
    it('refuses an exec once the init has exited (FailedPrecondition)', async () => {
      const id = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', 'exit 0']);
      const { task, close } = await connectTask(ct.shimSocket(id));
      try {
        await task.wait({ id, execId: '' });
        const refused = await rpcError(() => task.exec({ id, execId: 'late', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, PROCESS) }));
        assert.equal(refused.code, Code.FAILED_PRECONDITION);
        assert.equal(refused.message, `container ${id} init process is not running: failed precondition`);
      } finally {
        await close();
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      }
    });

    it('refuses a second Start of an exec whose first Start failed; the exec can be deleted, the container’s exit still comes', async () => {
      const id = uniqueId();
      const later = `/tmp/appears-later-${id}`;
      await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      const { task, close } = await connectTask(ct.shimSocket(id));
      try {
        await task.exec({ id, execId: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, { ...PROCESS, args: [later] }) });
        await rpcError(() => task.start({ id, execId: 'e1' })); // not there yet: runc exec fails
        writeFileSync(join(sharedRootfs(), later), '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 });
        const again = await rpcError(() => task.start({ id, execId: 'e1' }));
        assert.deepEqual([again.code, again.message], [Code.FAILED_PRECONDITION, 'exec e1 failed to start: delete it and exec again: failed precondition']);
        await task.delete({ id, execId: 'e1' });
        await task.kill({ id, execId: '', signal: 9, all: false });
        // before, the second Start ran a process counted as exited already: the init's exit was held for ever
        assert.equal((await task.wait({ id, execId: '' })).exitStatus, 137);
      } finally {
        rmSync(join(sharedRootfs(), later), { force: true });
        await close();
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      }
    });

    it('keeps the shim’s fd count flat over 150 exec cycles', async () => {
      const id = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      const { task, close } = await connectTask(ct.shimSocket(id));
      try {
        const { shimPid } = await task.connect({ id });
        const fds = () => readdirSync(`/proc/${shimPid}/fd`).length;
        const cycle = async (n: number) => {
          const r = await ct.ctr(['task', 'exec', '--exec-id', `c${n}`, id, '/bin/sh', '-c', `echo ${n}`]);
          assert.equal(r.stdout, `${n}\n`);
        };
        for (let i = 0; i < 10; i++) await cycle(i); // warm-up: lazily loaded modules, pools
        const before = fds();
        for (let i = 10; i < 150; i++) await cycle(i);
        await waitFor(() => fds() <= before, { what: `the shim's fd count to return to ${before} (now ${fds()})`, timeoutMs: 5000 });
      } finally {
        await close();
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      }
    });
  });
});
