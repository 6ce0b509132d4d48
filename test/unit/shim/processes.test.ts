/**
 * InitProcess and ExecProcess at the runc seam: a fake Runc (sinon stubs) decides what each runc
 * command does; stdio is the null mode (no FIFOs), so no native call happens. Checked: every verb
 * consults the state table before runc runs, runc's failures become the Go shim's messages
 * (PROTOCOL §7.19), and the state moves only on success.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { FakeNative } from '../../../native/fake';
import { ErrdefsError } from '../../../proto';
import { ExecProcess } from '../../../shim/process/exec';
import { type CheckpointSettings, InitProcess } from '../../../shim/process/init';
import { reportedStatus } from '../../../shim/process/state';
import { RuncError } from '../../../shim/runc/errors';
import { type Runc } from '../../../shim/runc/runc';
import { Deferred, FakeMonitor, tempDir } from './fakes';

const NULL_STDIO = { stdin: '', stdout: '', stderr: '', terminal: false };

/** A Runc whose every command is a sinon stub resolving at once unless told otherwise. */
function fakeRunc() {
  return {
    create: sinon.stub<[unknown, unknown?], Promise<void>>().resolves(),
    start: sinon.stub<[string], Promise<void>>().resolves(),
    exec: sinon.stub<[{ processFile: string; pidFile: string }, unknown?], Promise<void>>().resolves(),
    restore: sinon.stub().resolves(),
    kill: sinon.stub<[string, number, boolean], Promise<void>>().resolves(),
    delete: sinon.stub<[string, boolean?], Promise<void>>().resolves(),
    pause: sinon.stub<[string], Promise<void>>().resolves(),
    resume: sinon.stub<[string], Promise<void>>().resolves(),
    update: sinon.stub<[string, string], Promise<void>>().resolves(),
    checkpoint: sinon.stub<[{ workPath: string } & Record<string, unknown>], Promise<void>>().resolves(),
  };
}
type FakeRunc = ReturnType<typeof fakeRunc>;

/** Calls `fn` so that a synchronous throw becomes a rejection (as at the RPC edge, inside an async handler). */
const settle = (fn: () => Promise<void>): Promise<void> => Promise.resolve().then(fn);

const runcError = (command: string, logged: string): RuncError => new RuncError(command, 1, '', logged);

/** Asserts `promise` rejects with an ErrdefsError of `kind` whose wire message is `message`. */
async function rejectsWith(promise: Promise<unknown>, kind: string, message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ErrdefsError, String(err));
    assert.equal(err.kind, kind);
    assert.equal(err.toStatus().message, message);
    return true;
  });
}

describe('shim/process/init: InitProcess through a fake runc', () => {
  let dir: ReturnType<typeof tempDir>;
  let runc: FakeRunc;
  let init: InitProcess;
  afterEach(() => {
    sinon.restore();
    dir.cleanup();
  });
  beforeEach(() => {
    dir = tempDir();
    runc = fakeRunc();
    init = newInit();
  });

  function newInit(extra: { checkpoint?: string } = {}): InitProcess {
    return new InitProcess({
      id: 'c1',
      bundle: dir.path,
      runc: runc as unknown as Runc,
      options: { noPivotRoot: true, noNewKeyring: false, criuWorkPath: '' },
      stdio: NULL_STDIO,
      io: { native: new FakeNative(), monitor: new FakeMonitor(), containerId: 'c1', namespace: 'ns' },
      ...extra,
    });
  }

  async function running(): Promise<InitProcess> {
    runc.create.callsFake(() => {
      writeFileSync(join(dir.path, 'init.pid'), '4242');
      return Promise.resolve();
    });
    await init.create();
    await init.start();
    return init;
  }

  it('create runs runc create with the bundle, pid file and options, then reads the pid', async () => {
    await running();
    const [args, stdio] = runc.create.firstCall.args;
    assert.deepEqual(args, { id: 'c1', bundle: dir.path, pidFile: join(dir.path, 'init.pid'), noPivot: true, noNewKeyring: false });
    assert.deepEqual(stdio, ['ignore', 'ignore', 'ignore']);
    assert.equal(init.pid, 4242);
  });

  it('a failed runc create is "OCI runtime create failed: <runc\'s words>"', async () => {
    runc.create.rejects(runcError('create', 'container_linux.go:380: starting container process caused: exec: "nope": executable file not found in $PATH'));
    await rejectsWith(init.create(), 'unknown', 'OCI runtime create failed: container_linux.go:380: starting container process caused: exec: "nope": executable file not found in $PATH');
    assert.equal(init.pid, 0);
  });

  it('a pid file that does not hold a pid fails create', async () => {
    runc.create.callsFake(() => {
      writeFileSync(join(dir.path, 'init.pid'), 'garbage');
      return Promise.resolve();
    });
    await assert.rejects(init.create(), /OCI runtime create failed: .*init\.pid does not hold a pid/);
  });

  it('a restore is prepared at create and runs no runc', async () => {
    const restoring = newInit({ checkpoint: '/ck' });
    assert.equal(restoring.state, 'createdCheckpoint');
    await restoring.create();
    assert.equal(runc.create.callCount, 0);
  });

  it('start runs runc start and moves to running; a second start is refused before runc', async () => {
    await running();
    assert.deepEqual(runc.start.firstCall.args, ['c1']);
    assert.equal(init.state, 'running');
    await rejectsWith(init.start(), 'unknown', 'cannot start a running process');
    assert.equal(runc.start.callCount, 1);
  });

  it('a failed runc start keeps the process created', async () => {
    runc.start.rejects(runcError('start', 'cannot start a container that has stopped'));
    await rejectsWith(init.start(), 'unknown', 'OCI runtime start failed: cannot start a container that has stopped');
    assert.equal(init.state, 'created');
  });

  describe('kill', () => {
    it('passes signal and --all to runc', async () => {
      await running();
      await init.kill(15, false);
      await init.kill(9, true);
      assert.deepEqual(runc.kill.args, [
        ['c1', 15, false],
        ['c1', 9, true],
      ]);
    });

    const rows: [string, string, string][] = [
      ['container not running', 'notFound', 'process already finished: not found'],
      ['os: process already finished', 'notFound', 'process already finished: not found'],
      ['container "c1" does not exist', 'notFound', 'no such container: not found'],
      ['permission denied', 'unknown', 'unknown error after kill: permission denied'],
    ];
    for (const [text, kind, message] of rows) {
      it(`runc "${text}" → ${message}`, async () => {
        await running();
        init.setExited({ pid: 4242, status: 0, at: 1n });
        runc.kill.rejects(runcError('kill', text));
        await rejectsWith(init.kill(9, false), kind, message);
      });
    }

    it('a deleted process is refused before runc', async () => {
      await running();
      init.setExited({ pid: 4242, status: 0, at: 1n });
      await init.delete();
      await rejectsWith(init.kill(9, false), 'notFound', 'cannot kill a deleted process: not found');
      assert.equal(runc.kill.callCount, 0);
    });
  });

  it('killAll sends SIGKILL to all and tolerates a container already gone', async () => {
    await init.killAll();
    assert.deepEqual(runc.kill.lastCall.args, ['c1', 9, true]);
    runc.kill.rejects(runcError('kill', 'container not running'));
    await init.killAll();
    runc.kill.rejects(runcError('kill', 'container "c1" does not exist'));
    await init.killAll();
    runc.kill.rejects(runcError('kill', 'cgroup: permission denied'));
    await rejectsWith(init.killAll(), 'unknown', 'kill all processes: cgroup: permission denied');
  });

  describe('pause and resume', () => {
    it('is pausing while runc pause runs, then paused', async () => {
      await running();
      const gate = new Deferred();
      runc.pause.returns(gate.promise);
      const pausing = init.pause();
      assert.equal(init.state, 'pausing');
      assert.equal(reportedStatus('init', init.state, init.state), 5);
      gate.resolve();
      await pausing;
      assert.equal(init.state, 'paused');
      await rejectsWith(init.pause(), 'unknown', 'cannot pause a paused container');
    });

    it('a failed pause goes back to running', async () => {
      await running();
      runc.pause.rejects(runcError('pause', 'freezer: device or resource busy'));
      await rejectsWith(init.pause(), 'unknown', 'OCI runtime pause failed: freezer: device or resource busy');
      assert.equal(init.state, 'running');
    });

    it('an exit during runc pause leaves the process stopped', async () => {
      await running();
      const gate = new Deferred();
      runc.pause.returns(gate.promise);
      const pausing = init.pause();
      init.setExited({ pid: 4242, status: 137, at: 1n });
      gate.resolve();
      await pausing;
      assert.equal(init.state, 'stopped');
    });

    it('resume: paused → running; a failure stays paused; running is refused', async () => {
      await running();
      await rejectsWith(init.resume(), 'unknown', 'cannot resume a running process');
      await init.pause();
      runc.resume.onFirstCall().rejects(runcError('resume', 'thawing failed'));
      await rejectsWith(init.resume(), 'unknown', 'OCI runtime resume failed: thawing failed');
      assert.equal(init.state, 'paused');
      await init.resume();
      assert.equal(init.state, 'running');
    });

    it('resumeAfterExit never fails', async () => {
      runc.resume.rejects(runcError('resume', 'container "c1" does not exist'));
      await init.resumeAfterExit();
      assert.equal(runc.resume.callCount, 1);
    });
  });

  it('update hands runc the resources JSON; a stopped container is refused', async () => {
    await running();
    await init.update('{"cpu":{"shares":512}}');
    assert.deepEqual(runc.update.firstCall.args, ['c1', '{"cpu":{"shares":512}}']);
    runc.update.rejects(runcError('update', 'invalid memory limit'));
    await rejectsWith(init.update('{}'), 'unknown', 'OCI runtime update failed: invalid memory limit');
    init.setExited({ pid: 4242, status: 0, at: 1n });
    await rejectsWith(init.update('{}'), 'unknown', 'cannot update a stopped container');
    assert.equal(runc.update.callCount, 2);
  });

  describe('delete', () => {
    it('refuses a running process, runs runc delete after the exit, then is deleted', async () => {
      await running();
      await rejectsWith(init.delete(), 'unknown', 'cannot delete a running process');
      init.setExited({ pid: 4242, status: 0, at: 1n });
      await init.delete();
      assert.deepEqual(runc.delete.firstCall.args, ['c1']);
      assert.equal(init.state, 'deleted');
    });

    it('a container runc no longer knows is deleted all the same', async () => {
      await running();
      init.setExited({ pid: 4242, status: 0, at: 1n });
      runc.delete.rejects(runcError('delete', 'container "c1" does not exist'));
      await init.delete();
      assert.equal(init.state, 'deleted');
    });

    it('another runc failure keeps the process stopped, so Delete can be retried', async () => {
      await running();
      init.setExited({ pid: 4242, status: 0, at: 1n });
      runc.delete.onFirstCall().rejects(runcError('delete', 'device or resource busy'));
      await rejectsWith(init.delete(), 'unknown', 'failed to delete task: device or resource busy');
      assert.equal(init.state, 'stopped');
      await init.delete();
      assert.equal(init.state, 'deleted');
    });
  });

  describe('checkpoint (PROTOCOL §7.8)', () => {
    const settings: CheckpointSettings = { exit: false, openTcp: true, externalUnixSockets: false, terminal: false, fileLocks: true, emptyNamespaces: ['network'], workPath: '' };

    it('runs runc checkpoint with a work dir under the bundle, removed afterwards', async () => {
      await running();
      let workPath = '';
      runc.checkpoint.callsFake((o) => {
        workPath = o.workPath;
        mkdirSync(workPath, { recursive: true });
        return Promise.resolve();
      });
      await init.checkpoint('/ck/1', settings);
      assert.deepEqual(runc.checkpoint.firstCall.args[0], {
        id: 'c1',
        imagePath: '/ck/1',
        workPath: join(dir.path, 'work', 'criu-work'),
        exit: false,
        openTcp: true,
        externalUnixSockets: false,
        terminal: false,
        fileLocks: true,
        emptyNamespaces: ['network'],
      });
      assert.equal(existsSync(workPath), false, 'default work dir removed');
    });

    it('a criu failure copies the dump log to <bundle>/criu-dump.log and names it', async () => {
      await running();
      runc.checkpoint.callsFake((o) => {
        mkdirSync(o.workPath, { recursive: true });
        writeFileSync(join(o.workPath, 'dump.log'), 'criu says no\n');
        return Promise.reject(runcError('checkpoint', 'criu failed: type DUMP errno 0\nsecond line'));
      });
      await rejectsWith(init.checkpoint('/ck/1', settings), 'unknown', `criu failed: type DUMP errno 0 path= ${dir.path}/criu-dump.log`);
      assert.equal(readFileSync(join(dir.path, 'criu-dump.log'), 'utf8'), 'criu says no\n');
    });

    it('keeps a work dir the client chose', async () => {
      await running();
      const workPath = join(dir.path, 'mine');
      runc.checkpoint.callsFake(() => {
        mkdirSync(workPath, { recursive: true });
        return Promise.resolve();
      });
      await init.checkpoint('/ck/1', { ...settings, workPath });
      assert.equal(existsSync(workPath), true);
    });

    it('a created task is refused', async () => {
      await rejectsWith(init.checkpoint('/ck', settings), 'unknown', 'cannot checkpoint a task in created state');
      assert.equal(runc.checkpoint.callCount, 0);
    });
  });
});

describe('shim/process/exec: ExecProcess through a fake runc', () => {
  let dir: ReturnType<typeof tempDir>;
  let runc: FakeRunc;
  let exec: ExecProcess;
  beforeEach(() => {
    dir = tempDir();
    runc = fakeRunc();
    exec = new ExecProcess({
      containerId: 'c1',
      execId: 'e1',
      bundle: dir.path,
      runc: runc as unknown as Runc,
      processJson: '{"args":["sh"],"cwd":"/","terminal":false}',
      stdio: NULL_STDIO,
      io: { native: new FakeNative(), monitor: new FakeMonitor(), containerId: 'c1', namespace: 'ns' },
    });
  });
  afterEach(() => {
    sinon.restore();
    dir.cleanup();
  });

  async function started(): Promise<void> {
    runc.exec.callsFake((o) => {
      writeFileSync(o.pidFile, '777');
      return Promise.resolve();
    });
    await exec.start();
  }

  it('start writes the process JSON to a file in the bundle for runc exec --process, then removes it', async () => {
    let seen = '';
    let file = '';
    runc.exec.callsFake((o) => {
      file = o.processFile;
      seen = readFileSync(o.processFile, 'utf8');
      writeFileSync(o.pidFile, '777');
      return Promise.resolve();
    });
    await exec.start();
    assert.equal(seen, '{"args":["sh"],"cwd":"/","terminal":false}');
    assert.ok(file.startsWith(join(dir.path, 'runc-process')), file);
    assert.equal(existsSync(file), false, 'removed');
    assert.deepEqual(runc.exec.firstCall.args[0], { id: 'c1', processFile: file, pidFile: join(dir.path, 'e1.pid') });
    assert.equal(exec.pid, 777);
    assert.equal(exec.state, 'running');
  });

  it('a failed runc exec is "OCI runtime exec failed: …", the process stays created and its file is removed', async () => {
    let file = '';
    runc.exec.callsFake((o) => {
      file = o.processFile;
      return Promise.reject(runcError('exec', 'exec failed: unable to start container process: exec: "nope": executable file not found in $PATH'));
    });
    await rejectsWith(exec.start(), 'unknown', 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH');
    assert.equal(exec.state, 'created');
    assert.equal(exec.pid, 0);
    assert.equal(existsSync(file), false);
  });

  it('kill before start is FAILED_PRECONDITION "process not created" and signals nothing', async () => {
    const kill = sinon.stub(process, 'kill');
    await rejectsWith(settle(() => exec.kill(9)), 'failedPrecondition', 'process not created: failed precondition');
    assert.equal(kill.callCount, 0);
  });

  // Regression (found by this test, fixed in shim/process/exec.ts kill): declared to return a Promise, it throws synchronously for a
  // refusal or a kill(2) error; `exec.kill(n).catch(…)` would not catch it. The Task service
  // awaits it inside an async handler, so the wire answer is right today.
  it('kill reports a refusal as a rejected promise, not a synchronous throw', async () => {
    let promise: Promise<void> | undefined;
    assert.doesNotThrow(() => (promise = exec.kill(9)));
    await assert.rejects(promise ?? Promise.resolve(), /process not created/);
  });

  it('kill signals the exec pid with kill(2), not through runc', async () => {
    await started();
    const kill = sinon.stub(process, 'kill').returns(true);
    await exec.kill(15);
    assert.deepEqual(kill.firstCall.args, [777, 15]);
    assert.equal(runc.kill.callCount, 0);
  });

  it('ESRCH from kill(2) is NOT_FOUND "process already finished"', async () => {
    await started();
    sinon.stub(process, 'kill').throws(Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' }));
    await rejectsWith(settle(() => exec.kill(9)), 'notFound', 'process already finished: not found');
  });

  it('another kill(2) error is reported with the exec id', async () => {
    await started();
    sinon.stub(process, 'kill').throws(Object.assign(new Error('kill EPERM'), { code: 'EPERM' }));
    await rejectsWith(settle(() => exec.kill(9)), 'unknown', 'kill exec e1: kill EPERM');
  });

  it('kill after the exit is NOT_FOUND without signalling (the pid may be reused)', async () => {
    await started();
    exec.setExited({ pid: 777, status: 0, at: 1n });
    const kill = sinon.stub(process, 'kill');
    await rejectsWith(settle(() => exec.kill(9)), 'notFound', 'process already finished: not found');
    assert.equal(kill.callCount, 0);
  });

  it('delete: refused while running; after the exit removes the pid file; a second delete is NOT_FOUND', async () => {
    await started();
    await rejectsWith(exec.delete(), 'unknown', 'cannot delete a running process');
    exec.setExited({ pid: 777, status: 3, at: 1n });
    await exec.delete();
    assert.equal(existsSync(join(dir.path, 'e1.pid')), false);
    assert.equal(exec.state, 'deleted');
    assert.equal(runc.delete.callCount, 0, 'no runc for an exec');
    await assert.rejects(exec.delete(), (err: unknown) => err instanceof ErrdefsError && err.kind === 'notFound');
  });

  it('a created (never started) exec can be deleted', async () => {
    await exec.delete();
    assert.equal(exec.state, 'deleted');
  });

  it('resize of an exited exec is refused with the Go words', async () => {
    await started();
    exec.resize({ width: 80, height: 24 }); // null IO: nothing to resize, but allowed
    exec.setExited({ pid: 777, status: 0, at: 1n });
    assert.throws(() => exec.resize({ width: 80, height: 24 }), (err: unknown) => err instanceof ErrdefsError && err.toStatus().message === 'cannot resize a stopped container');
  });
});
