/**
 * runc command lines as tables (PROTOCOL §9.1, §9.2), runc's error texts classified, and the
 * runc client at its seam: every invocation goes through the injected monitor (a FakeMonitor
 * here), with the global flags first, cwd = bundle, NOTIFY_SOCKET removed, and runc's own error
 * read from this invocation's part of log.json.
 */
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as a from '../../../shim/runc/args';
import { RuncError, isNotExist, isProcessDone, lastLogError, logOffset } from '../../../shim/runc/errors';
import { runCommand } from '../../../shim/runc/command';
import { Runc } from '../../../shim/runc/runc';
import { FakeMonitor, tempDir } from './fakes';

const B = '/run/containerd/io.containerd.runtime.v2.task/rsrch/rx2';
const ID = 'rx2';

describe('shim/runc/args: global flags (§9.1)', () => {
  const rows: [string, a.GlobalOptions, string[]][] = [
    ['defaults', { root: '/run/containerd/runc/rsrch', log: `${B}/log.json` }, ['--root', '/run/containerd/runc/rsrch', '--log', `${B}/log.json`, '--log-format', 'json']],
    ['criu path', { root: '/r/ns', log: '/b/log.json', criuPath: '/usr/local/sbin/criu' }, ['--root', '/r/ns', '--log', '/b/log.json', '--log-format', 'json', '--criu', '/usr/local/sbin/criu']],
    ['systemd cgroup', { root: '/r/ns', log: '/b/log.json', systemdCgroup: true }, ['--root', '/r/ns', '--log', '/b/log.json', '--log-format', 'json', '--systemd-cgroup']],
    [
      'criu then systemd, in that order',
      { root: '/r/ns', log: '/b/log.json', criuPath: '/c', systemdCgroup: true },
      ['--root', '/r/ns', '--log', '/b/log.json', '--log-format', 'json', '--criu', '/c', '--systemd-cgroup'],
    ],
    ['systemd false and empty criu add nothing', { root: '/r/ns', log: '/b/log.json', criuPath: '', systemdCgroup: false }, ['--root', '/r/ns', '--log', '/b/log.json', '--log-format', 'json']],
  ];
  for (const [name, options, expected] of rows) it(name, () => assert.deepEqual(a.globalArgs(options), expected));
});

describe('shim/runc/args: command lines (§9.2)', () => {
  const rows: [string, string[], string[]][] = [
    ['create, no tty', a.createArgs({ id: ID, bundle: B, pidFile: `${B}/init.pid` }), ['create', '--bundle', B, '--pid-file', `${B}/init.pid`, ID]],
    [
      'create, tty, no-pivot, no-new-keyring',
      a.createArgs({ id: ID, bundle: B, pidFile: `${B}/init.pid`, consoleSocket: '/tmp/pty1/pty.sock', noPivot: true, noNewKeyring: true }),
      ['create', '--bundle', B, '--pid-file', `${B}/init.pid`, '--console-socket', '/tmp/pty1/pty.sock', '--no-pivot', '--no-new-keyring', ID],
    ],
    ['create, no-new-keyring only', a.createArgs({ id: ID, bundle: B, pidFile: 'p', noPivot: false, noNewKeyring: true }), ['create', '--bundle', B, '--pid-file', 'p', '--no-new-keyring', ID]],
    ['start', a.startArgs(ID), ['start', ID]],
    ['exec', a.execArgs({ id: ID, processFile: '/tmp/runc-process1', pidFile: `${B}/e1.pid` }), ['exec', '--process', '/tmp/runc-process1', '--detach', '--pid-file', `${B}/e1.pid`, ID]],
    [
      'exec, tty',
      a.execArgs({ id: ID, processFile: '/tmp/runc-process1', pidFile: `${B}/e1.pid`, consoleSocket: '/tmp/pty2/pty.sock' }),
      ['exec', '--process', '/tmp/runc-process1', '--console-socket', '/tmp/pty2/pty.sock', '--detach', '--pid-file', `${B}/e1.pid`, ID],
    ],
    [
      'restore, minimal: single-dash -no-subreaper before --bundle',
      a.restoreArgs({ id: ID, bundle: B, imagePath: '/ck', workPath: `${B}/work`, pidFile: `${B}/init.pid` }),
      ['restore', '--image-path', '/ck', '--work-path', `${B}/work`, '--detach', '--pid-file', `${B}/init.pid`, '-no-subreaper', '--bundle', B, ID],
    ],
    [
      'restore, everything',
      a.restoreArgs({ id: ID, bundle: B, imagePath: '/ck', workPath: '/w', pidFile: `${B}/init.pid`, parentPath: '/parent', consoleSocket: '/s.sock', noPivot: true }),
      ['restore', '--image-path', '/ck', '--work-path', '/w', '--parent-path', '/parent', '--detach', '--pid-file', `${B}/init.pid`, '--console-socket', '/s.sock', '--no-pivot', '-no-subreaper', '--bundle', B, ID],
    ],
    ['kill', a.killArgs(ID, 9, false), ['kill', ID, '9']],
    ['kill --all (ctr task rm -f)', a.killArgs(ID, 9, true), ['kill', '--all', ID, '9']],
    ['kill SIGTERM', a.killArgs(ID, 15, false), ['kill', ID, '15']],
    ['delete (RPC)', a.deleteArgs(ID, false), ['delete', ID]],
    ['delete --force (delete action)', a.deleteArgs(ID, true), ['delete', '--force', ID]],
    ['pause', a.pauseArgs(ID), ['pause', ID]],
    ['resume', a.resumeArgs(ID), ['resume', ID]],
    ['ps', a.psArgs(ID), ['ps', '--format', 'json', ID]],
    ['state', a.stateArgs(ID), ['state', ID]],
    ['update', a.updateArgs(ID), ['update', '--resources', '-', ID]],
    [
      'checkpoint, exit: no --leave-running',
      a.checkpointArgs({ id: ID, imagePath: '/ck', workPath: '/w', exit: true }),
      ['checkpoint', '--image-path', '/ck', '--work-path', '/w', ID],
    ],
    [
      'checkpoint as observed (§9.2)',
      a.checkpointArgs({ id: 'rx4', imagePath: '/tmp/ct/ckpt1', workPath: `${B}/work/criu-work`, exit: false }),
      ['checkpoint', '--image-path', '/tmp/ct/ckpt1', '--work-path', `${B}/work/criu-work`, '--leave-running', 'rx4'],
    ],
    [
      'checkpoint, every option, in order',
      a.checkpointArgs({ id: ID, imagePath: '/ck', workPath: '/w', exit: false, openTcp: true, externalUnixSockets: true, terminal: true, fileLocks: true, emptyNamespaces: ['network', 'ipc'] }),
      ['checkpoint', '--image-path', '/ck', '--work-path', '/w', '--tcp-established', '--ext-unix-sk', '--shell-job', '--file-locks', '--empty-ns', 'network', '--empty-ns', 'ipc', '--leave-running', ID],
    ],
    [
      'checkpoint, false options add nothing',
      a.checkpointArgs({ id: ID, imagePath: '/ck', workPath: '/w', exit: true, openTcp: false, externalUnixSockets: false, terminal: false, fileLocks: false, emptyNamespaces: [] }),
      ['checkpoint', '--image-path', '/ck', '--work-path', '/w', ID],
    ],
  ];
  for (const [name, actual, expected] of rows) it(name, () => assert.deepEqual(actual, expected));

  it('puts the container id last in every command but kill (id, then signal)', () => {
    for (const [name, actual] of rows) {
      if (name.startsWith('kill')) assert.equal(actual.at(-2), ID, name);
      else assert.ok(actual.at(-1) === ID || actual.at(-1) === 'rx4', name);
    }
  });
});

describe('shim/runc/errors: classification of runc texts', () => {
  const rows: [string, boolean, boolean][] = [
    // text, isProcessDone, isNotExist
    ['container not running', true, false],
    ['cannot kill container: container not running', true, false],
    ['os: process already finished', true, false],
    ['no such process', true, false],
    ['kill: ESRCH', true, false],
    ['container "x" does not exist', false, true],
    ['container "rx2" does not exist', false, true],
    ['open /run/containerd/runc/ns/rx2/state.json: no such file or directory', false, false],
    ['permission denied', false, false],
    ['researching the problem', false, false],
    ['exit status 1: ', false, false],
  ];
  for (const [text, done, missing] of rows) {
    it(`"${text}": process done ${done}, does not exist ${missing}`, () => {
      assert.equal(isProcessDone(text), done);
      assert.equal(isNotExist(text), missing);
    });
  }

  it('RuncError says runc\'s logged error, else "exit status N: output"', () => {
    const logged = new RuncError('kill', 1, 'junk\n', 'container not running');
    assert.equal(logged.detail, 'container not running');
    assert.equal(logged.message, 'container not running');
    assert.equal(logged.name, 'RuncError');
    const unlogged = new RuncError('start', 2, '  boom\n', undefined);
    assert.equal(unlogged.detail, 'exit status 2: boom');
    assert.deepEqual([unlogged.command, unlogged.status, unlogged.output], ['start', 2, '  boom\n']);
  });
});

describe('shim/runc/errors: reading log.json from an offset', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  const line = (level: string, msg: string): string => `${JSON.stringify({ level, msg, time: '2026-11-22T18:50:20Z' })}\n`;

  it('reads only the lines written after the offset, and the last error there (trimmed)', () => {
    const log = join(dir.path, 'log.json');
    writeFileSync(log, line('error', 'an earlier invocation failed'));
    const offset = logOffset(log);
    assert.ok(offset > 0);
    assert.equal(lastLogError(log, offset), undefined, 'nothing new yet');
    appendFileSync(log, line('info', 'starting'));
    appendFileSync(log, line('error', 'first'));
    appendFileSync(log, 'not json at all\n');
    appendFileSync(log, line('warning', 'a warning'));
    appendFileSync(log, line('error', '  container not running \n'));
    appendFileSync(log, line('debug', 'the end'));
    assert.equal(lastLogError(log, offset), 'container not running');
    assert.equal(lastLogError(log, 0), 'container not running');
  });

  it('returns undefined without an error line, without the file, and for an offset past the end', () => {
    const log = join(dir.path, 'log.json');
    assert.equal(logOffset(log), 0, 'missing log: offset 0');
    assert.equal(lastLogError(log, 0), undefined);
    writeFileSync(log, line('info', 'hello') + line('error', 42 as unknown as string));
    assert.equal(lastLogError(log, 0), undefined, 'a non-string msg is not an error text');
    assert.equal(lastLogError(log, 10_000), undefined, 'log truncated below the offset');
  });

  it('ignores a partial last line (runc still writing)', () => {
    const log = join(dir.path, 'log.json');
    writeFileSync(log, line('error', 'complete') + '{"level":"error","msg":"half');
    assert.equal(lastLogError(log, 0), 'complete');
  });
});

describe('shim/runc: invocations through the monitor', () => {
  let dir: ReturnType<typeof tempDir>;
  let monitor: FakeMonitor;
  beforeEach(() => {
    dir = tempDir();
    monitor = new FakeMonitor();
  });
  afterEach(() => dir.cleanup());

  function runc(extra: { criuPath?: string; systemdCgroup?: boolean; env?: NodeJS.ProcessEnv } = {}): Runc {
    return new Runc({ binary: 'runc', root: '/run/containerd/runc/rsrch', bundle: dir.path, monitor, ...extra });
  }
  const globals = (): string[] => ['--root', '/run/containerd/runc/rsrch', '--log', `${dir.path}/log.json`, '--log-format', 'json'];

  it('runs <binary> <global flags> <command> with cwd = bundle and NOTIFY_SOCKET removed', async () => {
    const r = runc({ env: { PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify', KEEP: '1' } });
    await r.kill(ID, 9, true);
    const call = monitor.spawns[0];
    assert.ok(call);
    assert.equal(call.command, 'runc');
    assert.deepEqual(call.args, [...globals(), 'kill', '--all', ID, '9']);
    assert.equal(call.options.cwd, dir.path);
    assert.deepEqual(call.options.env, { PATH: '/usr/bin', KEEP: '1' });
    assert.equal(r.log, `${dir.path}/log.json`);
  });

  it('appends --criu and --systemd-cgroup after the fixed globals', async () => {
    await runc({ criuPath: '/opt/criu', systemdCgroup: true, env: {} }).pause(ID);
    assert.deepEqual(monitor.spawns[0]?.args, [...globals(), '--criu', '/opt/criu', '--systemd-cgroup', 'pause', ID]);
  });

  it('hands create its stdio fds and does not capture output', async () => {
    await runc({ env: {} }).create({ id: ID, bundle: dir.path, pidFile: `${dir.path}/init.pid` }, [10, 11, 12]);
    const call = monitor.spawns[0];
    assert.deepEqual(call?.options.stdio, [10, 11, 12]);
    assert.deepEqual(call?.args, [...globals(), 'create', '--bundle', dir.path, '--pid-file', `${dir.path}/init.pid`, ID]);
  });

  it('feeds update the resources JSON on stdin', async () => {
    await runc({ env: {} }).update(ID, '{"memory":{"limit":1048576}}');
    assert.equal(monitor.spawns[0]?.stdin, '{"memory":{"limit":1048576}}\n');
    assert.deepEqual(monitor.spawns[0]?.options.stdio, ['pipe', 'pipe', 'pipe']);
  });

  it('parses ps output: a JSON array of pids, null (no processes: runc 1.1 for a stopped container) as none, and refuses anything else', async () => {
    monitor.script = () => ({ stdout: '[12,13]\n' });
    assert.deepEqual(await runc({ env: {} }).ps(ID), [12, 13]);
    monitor.script = () => ({ stdout: 'null\n' });
    assert.deepEqual(await runc({ env: {} }).ps(ID), []);
    monitor.script = () => ({ stdout: '' });
    assert.deepEqual(await runc({ env: {} }).ps(ID), []);
    monitor.script = () => ({ stdout: '{"pids":[1]}\n' });
    assert.deepEqual(await runc({ env: {} }).ps(ID).catch((e: Error) => e.message), 'runc ps: unexpected output {"pids":[1]}');
  });

  it('turns a failure into a RuncError with the error runc logged during this invocation', async () => {
    const log = join(dir.path, 'log.json');
    writeFileSync(log, `${JSON.stringify({ level: 'error', msg: 'stale error of an earlier run' })}\n`);
    monitor.script = () => {
      appendFileSync(log, `${JSON.stringify({ level: 'error', msg: 'container not running' })}\n`);
      return { status: 1, stderr: 'time="…" level=error msg="container not running"\n' };
    };
    const err = await runc({ env: {} })
      .kill(ID, 15, false)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof RuncError);
    assert.deepEqual([err.command, err.status, err.logError, err.detail], ['kill', 1, 'container not running', 'container not running']);
    assert.match(err.output, /level=error/);
  });

  it('without a logged error the RuncError carries the exit status and combined output', async () => {
    const log = join(dir.path, 'log.json');
    writeFileSync(log, `${JSON.stringify({ level: 'error', msg: 'stale error of an earlier run' })}\n`);
    monitor.script = () => ({ status: 2, stdout: 'out ', stderr: 'err\n' });
    const err = await runCommand(monitor, 'runc', [...globals(), 'start', ID], { cwd: dir.path, env: {}, log }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RuncError);
    assert.equal(err.command, 'start', 'the subcommand, not a global flag value');
    assert.equal(err.detail, 'exit status 2: out err');
  });

  it('a signal exit is a failure too (status 128+n)', async () => {
    monitor.script = () => ({ status: 137, signal: 9 });
    await assert.rejects(runc({ env: {} }).resume(ID), (e: unknown) => e instanceof RuncError && e.status === 137 && e.command === 'resume');
  });

  it('a binary that cannot be started rejects with the spawn error', async () => {
    monitor.script = () => ({ spawnError: Object.assign(new Error('spawn nope ENOENT'), { code: 'ENOENT' }) });
    await assert.rejects(runc({ env: {} }).start(ID), /ENOENT/);
  });

  it('returns stdout apart from the combined output', async () => {
    monitor.script = () => ({ stdout: 'A', stderr: 'B' });
    const result = await runCommand(monitor, 'runc', ['state', ID], { cwd: dir.path, env: {}, log: join(dir.path, 'log.json') });
    assert.deepEqual(result, { stdout: 'A', output: 'AB' });
  });

  it('runs every Runc method as its argv builder says', async () => {
    const r = runc({ env: {} });
    await r.start(ID);
    await r.delete(ID);
    await r.delete(ID, true);
    await r.resume(ID);
    await r.exec({ id: ID, processFile: '/p', pidFile: '/e.pid' });
    await r.restore({ id: ID, bundle: dir.path, imagePath: '/ck', workPath: '/w', pidFile: '/i.pid' });
    await r.checkpoint({ id: ID, imagePath: '/ck', workPath: '/w', exit: false });
    assert.deepEqual(
      monitor.spawns.map((s) => s.args.slice(globals().length)),
      [
        a.startArgs(ID),
        a.deleteArgs(ID, false),
        a.deleteArgs(ID, true),
        a.resumeArgs(ID),
        a.execArgs({ id: ID, processFile: '/p', pidFile: '/e.pid' }),
        a.restoreArgs({ id: ID, bundle: dir.path, imagePath: '/ck', workPath: '/w', pidFile: '/i.pid' }),
        a.checkpointArgs({ id: ID, imagePath: '/ck', workPath: '/w', exit: false }),
      ],
    );
  });
});
