/**
 * The supervisor survives its own crash: `kill -9` of the daemon and a restart, for both shims.
 *   - a container writing numbered lines throughout: every line once and in order in its log files,
 *     still running and manageable after the restart;
 *   - an exit that happened while the daemon was down is learnt at restart;
 *   - a shim SIGKILLed while the daemon was down is found dead and cleaned with `delete` (exit 137,
 *     no process, mount or socket left), and one that dies under a running daemon likewise.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, run } from '../helpers/containerd';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label } from '../helpers/runtimes';
import { type ContainerJson, Supervisor, checkNumbered, countingScript } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('tsrunc daemon crash and restart (real runc)', function () {
  this.timeout(90_000);
  let sv: Supervisor;
  let rootfs: string;
  let n = 0;

  before(async function () {
    requireSystem(this, ['runc', 'containerd-shim-runc-v2', 'busybox']);
    rootfs = sharedRootfs();
    sv = new Supervisor();
    await sv.startDaemon();
  });
  after(async () => {
    await sv?.cleanup();
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
      const name = (): string => `${runtime === GO_RUNTIME ? 'rgo' : 'rts'}${++n}`;
      const runD = (nm: string, script: string): Promise<string> => sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', script]);
      const lines = (logDir: string): number => sv.logText(logDir).split('\n').filter((l) => l !== '').length;
      /** A running `sleep 1000` container and the pid of its shim server. */
      const sleeperWithShim = async (): Promise<{ nm: string; c: ContainerJson; shimPid: number }> => {
        const nm = name();
        await runD(nm, 'sleep 1000');
        const c = await sv.inspect(nm);
        const [shimPid] = sv.shimPids(c.id);
        assert.ok(shimPid !== undefined, 'the shim server runs');
        return { nm, c, shimPid };
      };

      it('kill -9 of the daemon while a container writes: nothing lost or duplicated, the task still running and manageable', async () => {
        const nm = name();
        await runD(nm, countingScript('forever', 10));
        const before = await sv.inspect(nm);
        await waitFor(() => lines(before.logDir) >= 30, { what: 'the first lines' });
        await sv.killDaemon();
        const atCrash = lines(before.logDir);
        await waitFor(() => lines(before.logDir) >= atCrash + 30, { what: 'lines written while the daemon is down' });
        await sv.startDaemon();
        const after = await sv.inspect(nm);
        assert.deepEqual([after.status, after.pid, after.shim?.address], ['running', before.pid, before.shim?.address]);
        const atRestart = lines(before.logDir);
        await waitFor(() => lines(before.logDir) >= atRestart + 30, { what: 'lines written after the restart' });
        const exec = await sv.cli(['exec', nm, '--', '/bin/echo', 'still managed']);
        assert.deepEqual([exec.code, exec.stdout], [0, 'still managed\n'], exec.stderr);
        await sv.ok(['kill', nm]);
        await waitFor(async () => (await sv.inspect(nm)).status === 'exited', { what: 'the kill to be recorded' });
        const logs = await sv.cli(['logs', nm]);
        const total = checkNumbered(logs.stdout, atRestart + 30);
        assert.equal(checkNumbered(sv.logText(before.logDir), total), total, 'the files hold what logs prints');
        assert.equal(logs.stderr, '');
        await sv.ok(['rm', nm]);
      });

      it('an exit that happened while the daemon was down is learnt at restart', async () => {
        const nm = name();
        const flag = join(rootfs, 'tmp', `stop-${nm}`);
        rmSync(flag, { force: true });
        await runD(nm, `while [ ! -e /tmp/stop-${nm} ]; do sleep 0.05; done; exit 3`);
        const c = await sv.inspect(nm);
        await sv.killDaemon();
        writeFileSync(flag, '');
        await waitFor(() => !alive(c.pid), { what: 'the container to exit' });
        await sv.startDaemon();
        const after = await sv.inspect(nm);
        assert.deepEqual([after.status, after.exitStatus, after.error], ['exited', 3, null]);
        await waitFor(async () => (await sv.inspect(nm)).shim === null && sv.shimPids(c.id).length === 0, { what: 'the task deleted and its shim gone' });
        rmSync(flag, { force: true });
        await sv.ok(['rm', nm]);
      });

      it('a shim SIGKILLed while the daemon was down is found dead at restart and cleaned with `delete`', async () => {
        const { nm, c, shimPid } = await sleeperWithShim();
        await sv.killDaemon();
        process.kill(shimPid, 'SIGKILL');
        await waitFor(() => !alive(shimPid), { what: 'the shim to die' });
        await sv.startDaemon();
        const after = await sv.inspect(nm);
        assert.deepEqual([after.status, after.exitStatus, after.shim], ['exited', 137, null]);
        assert.match(after.error ?? '', /shim exited while the daemon was down/);
        await assertNothingLeft(c);
        await sv.ok(['rm', nm]);
      });

      it('a create the daemon died in after its shim started, before the record named the shim: the shim is found by its address file and shut down', async () => {
        const { nm, c, shimPid } = await sleeperWithShim();
        await sv.killDaemon();
        // the state such a kill leaves: a `creating` record with no shim in it, a shim with no task to keep
        process.kill(c.pid, 'SIGKILL');
        await waitFor(() => !alive(c.pid), { what: 'the container to be gone' });
        sv.editRecord(c.id, (r) => {
          r['status'] = 'creating';
          delete r['shim'];
        });
        await sv.startDaemon();
        assert.equal((await sv.cli(['inspect', nm])).code, 1, 'the half-made container is undone');
        await waitFor(() => !alive(shimPid), { what: 'the shim to be shut down' });
        await assertNothingLeft(c);
      });

      it('a shim that dies while `stop` waits for the exit: the stop cleans it up and succeeds (137)', async () => {
        const nm = name();
        await runD(nm, 'trap "echo got-term" TERM; while :; do sleep 0.1; done');
        const c = await sv.inspect(nm);
        const [shimPid] = sv.shimPids(c.id);
        assert.ok(shimPid !== undefined, 'the shim server runs');
        const stopping = sv.cli(['stop', '-t', '30', nm]);
        await waitFor(() => sv.logText(c.logDir).includes('got-term'), { what: 'the SIGTERM of the stop' });
        process.kill(shimPid, 'SIGKILL');
        // the dead shim's cleanup is queued behind the stop: before, the stop waited out its 30 s,
        // then failed after its SIGKILL found no shim ("did not stop after SIGKILL"); now it gives
        // up waiting when the shim's connection closes and cleans up itself
        const stopped = await stopping;
        assert.equal(stopped.code, 0, stopped.stderr);
        const after = await sv.inspect(nm);
        assert.deepEqual([after.status, after.exitStatus, after.error], ['exited', 137, 'shim died']);
        await assertNothingLeft(c);
        await sv.ok(['rm', nm]);
      });

      it('a shim that dies under a running daemon is cleaned with `delete` and its exit (137) recorded', async () => {
        const { nm, c, shimPid } = await sleeperWithShim();
        process.kill(shimPid, 'SIGKILL');
        await waitFor(async () => (await sv.inspect(nm)).status === 'exited', { what: 'the dead shim to be noticed' });
        const after = await sv.inspect(nm);
        assert.deepEqual([after.exitStatus, after.error], [137, 'shim died']);
        await assertNothingLeft(c);
        await sv.ok(['rm', nm]);
      });
    });
  }

  /** No container process, shim, socket, mount or runc state left for `c`. */
  async function assertNothingLeft(c: { id: string; pid: number; bundle: string }): Promise<void> {
    await waitFor(() => !alive(c.pid), { what: 'the container init to be killed by `delete`' });
    assert.deepEqual(sv.shimPids(c.id), []);
    assert.equal(existsSync(sv.shimSocket(c.id)), false, 'the dead shim socket is removed');
    assert.deepEqual(mountsUnder(c.bundle), []);
    const list = await run('runc', ['--root', join(sv.root, 'run', 'runc', sv.namespace), 'list', '-q']);
    assert.equal(list.stdout.split('\n').includes(c.id), false, 'runc forgot the container');
  }
});
