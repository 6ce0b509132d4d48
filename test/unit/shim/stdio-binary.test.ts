/**
 * The binary:// logging driver (shim/stdio/binary-logger.ts) at the native and monitor seams:
 * argv/env building, the fd layout handed to the logger, readiness before runc may run, clear
 * failures, which fds close when, and SIGTERM → SIGKILL after the stop timeout.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { BinaryIO, type BinaryMode, STOP_TIMEOUT_MS, loggerCommand } from '../../../shim/stdio/binary-logger';
import { parseStdio } from '../../../shim/stdio/uri';
import { StdioFakeNative, fakeMonitor } from '../../fixtures/stdio-fakes';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('stdio/binary-logger: argv and environment', () => {
  it('passes each query key followed by its first value, and only CONTAINER_ID and CONTAINER_NAMESPACE', () => {
    const mode = parseStdio({ stdin: '', stdout: 'binary:///usr/bin/logger?k1=v1&k2=v2&k1=other&flag', stderr: '', terminal: false }) as BinaryMode;
    assert.deepEqual(loggerCommand(mode, { containerId: 'ctr', namespace: 'ns' }), {
      command: '/usr/bin/logger',
      args: ['k1', 'v1', 'k2', 'v2', 'flag', ''],
      env: { CONTAINER_ID: 'ctr', CONTAINER_NAMESPACE: 'ns' },
    });
  });

  it('decodes the path and the values', () => {
    const mode = parseStdio({ stdin: '', stdout: 'binary:///opt/my%20logger?path=%2Fvar%2Flog%2Fx', stderr: '', terminal: false }) as BinaryMode;
    const cmd = loggerCommand(mode, { containerId: 'c', namespace: 'n' });
    assert.equal(cmd.command, '/opt/my logger');
    assert.deepEqual(cmd.args, ['path', '/var/log/x']);
  });
});

describe('stdio/binary-logger: BinaryIO', () => {
  let native: StdioFakeNative;
  let monitor: ReturnType<typeof fakeMonitor>;
  const mode: BinaryMode = { kind: 'binary', stdin: '', path: '/bin/logger', args: ['a', 'b'] };
  const options = () => ({ native, monitor, containerId: 'ctr', namespace: 'ns' });

  beforeEach(() => {
    native = new StdioFakeNative();
    monitor = fakeMonitor();
  });

  /** Opens and makes the logger ready (fd 5's read end readable). */
  async function openReady(extra: Record<string, unknown> = {}): Promise<BinaryIO> {
    const opening = BinaryIO.open(mode, { ...options(), ...extra });
    await flush();
    const readyR = readyReadEnd();
    native.emit(readyR, { readable: true });
    return opening;
  }

  /** fds as pipes were handed out: [outR, outW, errR, errW, readyR, readyW]. */
  const pipeFds = (): number[] => {
    const spawn = monitor.spawns[0];
    assert.ok(spawn);
    const stdio = spawn.options['stdio'] as (number | string)[];
    const [outR, errR, readyW] = [stdio[3], stdio[4], stdio[5]] as number[];
    return [outR as number, (outR as number) + 1, errR as number, (errR as number) + 1, (readyW as number) - 1, readyW as number];
  };
  const readyReadEnd = (): number => pipeFds()[4] as number;

  it('spawns the logger through the monitor with /dev/null on 0-2, the read ends on 3 and 4, the ready write end on 5', async () => {
    const io = await openReady();
    const spawn = monitor.spawns[0];
    assert.ok(spawn);
    assert.equal(spawn.command, '/bin/logger');
    assert.deepEqual(spawn.args, ['a', 'b']);
    assert.deepEqual(spawn.options['env'], { CONTAINER_ID: 'ctr', CONTAINER_NAMESPACE: 'ns' });
    const stdio = spawn.options['stdio'] as unknown[];
    assert.deepEqual(stdio.slice(0, 3), ['ignore', 'ignore', 'ignore']);
    const [outR, outW, errR, errW] = pipeFds();
    assert.deepEqual(stdio.slice(3, 5), [outR, errR]);
    assert.deepEqual(io.runcStdio, ['ignore', outW, errW], 'runc gets the write ends; no stdin without a stdin FIFO');
    io.close();
  });

  it('resolves only once fd 5 is readable (a byte or EOF), and closes our ready ends', async () => {
    let resolved = false;
    const opening = BinaryIO.open(mode, options()).then((io) => {
      resolved = true;
      return io;
    });
    await flush();
    const [, , , , readyR, readyW] = pipeFds();
    assert.ok(!native.openFds().includes(readyW as number), 'our copy of the write end is closed right after spawning');
    assert.equal(resolved, false, 'not ready yet: runc must not run');
    native.emit(readyR as number, { readable: true });
    const io = await opening;
    assert.equal(resolved, true);
    assert.ok(!native.openFds().includes(readyR as number));
    io.close();
  });

  it('fails clearly when the logger stays silent past the timeout, and stops it', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const opening = BinaryIO.open(mode, { ...options(), readyTimeoutMs: 5000 });
      const failed = assert.rejects(opening, /logging binary \/bin\/logger did not signal ready .* within 5000 ms/);
      await flush();
      await clock.tickAsync(5000);
      await failed;
      assert.deepEqual(monitor.spawns[0]?.child.signals, ['SIGTERM']);
      assert.deepEqual(native.openFds(), [], 'every pipe closed');
    } finally {
      clock.restore();
    }
  });

  it('fails clearly when the logger cannot be started', async () => {
    monitor.nextPid = undefined;
    const opening = BinaryIO.open(mode, options());
    await flush();
    monitor.spawns[0]?.fail(Object.assign(new Error('spawn /bin/logger ENOENT'), { code: 'ENOENT' }));
    await assert.rejects(opening, /failed to start logging binary \/bin\/logger: spawn \/bin\/logger ENOENT/);
    assert.deepEqual(native.openFds(), []);
  });

  it('containerStarted closes our read ends only; close() closes the write ends (the logger sees EOF then)', async () => {
    const io = await openReady();
    const [outR, outW, errR, errW] = pipeFds();
    await io.containerStarted();
    const open = native.openFds();
    assert.deepEqual([open.includes(outR as number), open.includes(errR as number)], [false, false]);
    assert.deepEqual([open.includes(outW as number), open.includes(errW as number)], [true, true]);
    io.close();
    assert.deepEqual(native.openFds(), []);
  });

  it('close(): SIGTERM, then SIGKILL after 12 s if the logger is still there; idempotent', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const io = await openReadyWithClock(clock);
      const child = monitor.spawns[0]?.child;
      io.close();
      io.close();
      assert.deepEqual(child?.signals, ['SIGTERM']);
      await clock.tickAsync(STOP_TIMEOUT_MS - 1);
      assert.deepEqual(child?.signals, ['SIGTERM']);
      await clock.tickAsync(1);
      assert.deepEqual(child?.signals, ['SIGTERM', 'SIGKILL']);
      monitor.spawns[0]?.exit(137);
      await io.whenClosed();
    } finally {
      clock.restore();
    }
  });

  it('close(): no SIGKILL when the logger exits after SIGTERM; whenClosed resolves at its exit', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const io = await openReadyWithClock(clock);
      io.close();
      let closed = false;
      void io.whenClosed().then(() => (closed = true));
      await flush();
      assert.equal(closed, false);
      monitor.spawns[0]?.exit(143);
      await flush();
      assert.equal(closed, true);
      await clock.tickAsync(STOP_TIMEOUT_MS * 2);
      assert.deepEqual(monitor.spawns[0]?.child.signals, ['SIGTERM']);
    } finally {
      clock.restore();
    }
  });

  it('does not signal a logger that has already exited', async () => {
    const io = await openReady();
    monitor.spawns[0]?.exit(0);
    await flush();
    io.close();
    assert.deepEqual(monitor.spawns[0]?.child.signals, []);
  });

  it('terminal mode: runc gets no fds; the stdout write end becomes the console output stream', async () => {
    const opening = BinaryIO.open(mode, options(), { terminal: true });
    await flush();
    native.emit(readyReadEnd(), { readable: true });
    const io = await opening;
    assert.deepEqual(io.runcStdio, ['ignore', 'ignore', 'ignore']);
    io.close();
  });

  async function openReadyWithClock(clock: sinon.SinonFakeTimers): Promise<BinaryIO> {
    const opening = BinaryIO.open(mode, options());
    await clock.tickAsync(0);
    native.emit(readyReadEnd(), { readable: true });
    return opening;
  }
});
