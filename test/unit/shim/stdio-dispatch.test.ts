/**
 * openIO (shim/stdio/io.ts) picks the stdio implementation from the terminal flag and the scheme of
 * stdout (PROTOCOL §10.1): terminal → ConsoleIO (whatever the output), binary:// → BinaryIO,
 * otherwise PipeIO; an unknown scheme is refused before anything is opened.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryIO } from '../../../shim/stdio/binary-logger';
import { ConsoleIO } from '../../../shim/stdio/console';
import { openIO } from '../../../shim/stdio/io';
import { PipeIO } from '../../../shim/stdio/pipe-io';
import { StdioUriError } from '../../../shim/stdio/uri';
import { StdioFakeNative, fakeMonitor } from '../../fixtures/stdio-fakes';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('stdio/io: openIO dispatch by mode', () => {
  let runtimeDir: string;
  let native: StdioFakeNative;
  let monitor: ReturnType<typeof fakeMonitor>;
  const ctx = () => ({ native, monitor, containerId: 'ctr', namespace: 'ns' });
  const saved = process.env['XDG_RUNTIME_DIR'];

  beforeEach(() => {
    runtimeDir = mkdtempSync(join(tmpdir(), 'stdio-dispatch-'));
    process.env['XDG_RUNTIME_DIR'] = runtimeDir;
    native = new StdioFakeNative();
    monitor = fakeMonitor();
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['XDG_RUNTIME_DIR'];
    else process.env['XDG_RUNTIME_DIR'] = saved;
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  /** Makes the logger of the latest spawn ready (its fd 5 read end readable). */
  function makeLoggerReady(): void {
    const stdio = monitor.spawns.at(-1)?.options['stdio'] as number[] | undefined;
    const readyW = stdio?.[5];
    assert.ok(readyW !== undefined);
    native.emit(readyW - 1, { readable: true });
  }

  it('terminal → ConsoleIO: a console socket under $XDG_RUNTIME_DIR, runc stdio /dev/null', async () => {
    const io = await openIO({ stdin: '', stdout: '', stderr: '', terminal: true }, ctx());
    assert.ok(io instanceof ConsoleIO);
    assert.deepEqual(io.runcStdio, ['ignore', 'ignore', 'ignore']);
    assert.match(io.consoleSocket ?? '', new RegExp(`^${runtimeDir}/pty[^/]+/pty\\.sock$`));
    assert.deepEqual(native.calls.filter((c) => c[0] === 'listenUnix'), [['listenUnix', io.consoleSocket]]);
    io.close();
    assert.deepEqual(readdirSync(runtimeDir), []);
    assert.deepEqual(native.openFds(), []);
    await io.whenClosed();
  });

  it('binary:// → BinaryIO, resolving only once the logger is ready', async () => {
    let resolved = false;
    const opening = openIO({ stdin: '', stdout: 'binary:///bin/logger?x=1', stderr: 'binary:///bin/logger?x=1', terminal: false }, ctx());
    void opening.then(() => (resolved = true));
    await flush();
    assert.equal(resolved, false);
    assert.deepEqual(monitor.spawns.map((s) => [s.command, s.args]), [['/bin/logger', ['x', '1']]]);
    makeLoggerReady();
    const io = await opening;
    assert.ok(io instanceof BinaryIO);
    io.close();
  });

  it('terminal + binary:// → ConsoleIO with the logger started before runc', async () => {
    const opening = openIO({ stdin: '', stdout: 'binary:///bin/logger', stderr: '', terminal: true }, ctx());
    await flush();
    assert.equal(monitor.spawns.length, 1);
    makeLoggerReady();
    const io = await opening;
    assert.ok(io instanceof ConsoleIO);
    assert.deepEqual(io.runcStdio, ['ignore', 'ignore', 'ignore']);
    io.close();
    assert.deepEqual(monitor.spawns[0]?.child.signals, ['SIGTERM']);
    monitor.spawns[0]?.exit(143);
    await io.whenClosed();
    assert.deepEqual(native.openFds(), []);
  });

  it('null IO → PipeIO with /dev/null for runc; processExited is a no-op; whenClosed resolves', async () => {
    const io = await openIO({ stdin: '', stdout: '', stderr: '', terminal: false }, ctx());
    assert.ok(io instanceof PipeIO);
    assert.deepEqual(io.runcStdio, ['ignore', 'ignore', 'ignore']);
    io.processExited();
    io.close();
    await io.whenClosed();
  });

  it('an unknown scheme is refused before anything is opened', async () => {
    await assert.rejects(openIO({ stdin: '', stdout: 'tcp://host/x', stderr: '', terminal: true }, ctx()), StdioUriError);
    assert.deepEqual(native.calls, []);
    assert.equal(monitor.spawns.length, 0);
  });

  it('a logger that fails to start closes the console socket it had opened', async () => {
    monitor.nextPid = undefined;
    const opening = openIO({ stdin: '', stdout: 'binary:///missing', stderr: '', terminal: true }, ctx());
    await flush();
    monitor.spawns[0]?.fail(new Error('spawn /missing ENOENT'));
    await assert.rejects(opening, /failed to start logging binary \/missing/);
    assert.deepEqual(readdirSync(runtimeDir), []);
    assert.deepEqual(native.openFds(), []);
  });
});
