/**
 * binary:// logging (shim/stdio/binary-logger.ts, PROTOCOL §10.5) with a real logger process and
 * real runc containers: the logger gets exactly its argv and two environment variables, runc runs
 * only after it is ready, it receives stdout and stderr byte-exact and sees EOF only at close, it is
 * stopped with SIGTERM (SIGKILL when it ignores that), and a terminal's output goes into its stdout.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { ExitMonitor, Reaper } from '../../shim/reaper';
import { BinaryIO } from '../../shim/stdio/binary-logger';
import { ConsoleIO } from '../../shim/stdio/console';
import { openIO } from '../../shim/stdio/io';
import { type ProcessIO } from '../../shim/stdio/types';
import { sha256 } from '../fixtures/stdio-clients';
import { RuncSandbox, hasExited, waitExit } from '../fixtures/stdio-runc';
import { alive } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

interface LoggerReport {
  argv: string[];
  env: Record<string, string>;
  pid: number;
  stdout: { bytes: number; eof: boolean };
  stderr: { bytes: number; eof: boolean };
  sigterm: boolean;
  closedAt: number;
  readyAt: number;
}

describe('stdio: binary:// logging driver (real logger, real runc)', function () {
  this.timeout(60_000);
  let sandbox: RuncSandbox;
  let dir: string;
  let logger: string;
  const ios: ProcessIO[] = [];
  const monitor = new ExitMonitor(new Reaper({ native: loadNative() }), loadNative());
  const ctx = () => ({ native: loadNative(), monitor, containerId: 'ctr-1', namespace: 'stdio-ns' });
  const report = (): LoggerReport => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as LoggerReport;
  const uri = (query: string): string => `binary://${logger}?dir=${encodeURIComponent(dir)}${query}`;

  before(function () {
    requireSystem(this, ['runc']);
    sandbox = new RuncSandbox();
  });
  after(async () => {
    await sandbox?.remove();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stdio-binary-'));
    // the logger gets no PATH: an executable whose shebang is Node's absolute path
    logger = join(dir, 'logger');
    writeFileSync(logger, `#!${process.execPath}\nrequire(${JSON.stringify(join(__dirname, '..', 'fixtures', 'stdio-logger.js'))});\n`);
    chmodSync(logger, 0o755);
  });
  afterEach(async () => {
    const open = ios.splice(0);
    for (const io of open) io.close();
    await Promise.all(open.map((io) => io.whenClosed()));
    await sandbox.remove();
    sandbox = new RuncSandbox();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the logger with argv from the query and only CONTAINER_ID and CONTAINER_NAMESPACE', async () => {
    const io = await openIO({ stdin: '', stdout: uri('&k1=v1&k2='), stderr: uri('&k1=v1&k2='), terminal: false }, ctx());
    ios.push(io);
    assert.ok(io instanceof BinaryIO);
    const r = report();
    assert.deepEqual(r.argv, ['dir', dir, 'k1', 'v1', 'k2', '']);
    assert.deepEqual(r.env, { CONTAINER_ID: 'ctr-1', CONTAINER_NAMESPACE: 'stdio-ns' });
    assert.equal(typeof io.runcStdio[1], 'number');
    assert.equal(typeof io.runcStdio[2], 'number');
    assert.equal(io.runcStdio[0], 'ignore');
  });

  it('receives stdout and stderr byte-exact, sees EOF only at close, and exits on SIGTERM', async () => {
    const out = randomBytes(3 << 20);
    const err = randomBytes(1 << 20);
    sandbox.writeRootfsFile('out.bin', out);
    sandbox.writeRootfsFile('err.bin', err);
    const io = await openIO({ stdin: '', stdout: uri(''), stderr: uri(''), terminal: false }, ctx());
    ios.push(io);
    const { id, pid } = await sandbox.create(io, ['sh', '-c', 'cat /out.bin; cat /err.bin >&2']);
    await sandbox.start(id);
    await waitExit(pid);
    io.processExited();
    await waitFor(() => report().stdout.bytes === out.length && report().stderr.bytes === err.length, { what: 'the logger to receive everything' });
    await sandbox.delete(id);
    assert.equal(report().stdout.eof, false, 'no EOF before the process is deleted');
    await io.drained(2000);
    io.close();
    await io.whenClosed();
    const r = report();
    assert.deepEqual([r.stdout.eof, r.stderr.eof, r.sigterm], [true, true, true]);
    assert.equal(sha256(readFileSync(join(dir, 'stdout'))), sha256(out));
    assert.equal(sha256(readFileSync(join(dir, 'stderr'))), sha256(err));
    assert.ok(hasExited(r.pid));
  });

  it('resolves only once the logger has signalled ready (runc runs after that)', async () => {
    const io = await openIO({ stdin: '', stdout: uri('&mode=slow-ready'), stderr: uri('&mode=slow-ready'), terminal: false }, ctx());
    const resolvedAt = Date.now();
    ios.push(io);
    const readyAt = report().readyAt;
    assert.ok(readyAt > 0 && readyAt <= resolvedAt, `ready at ${readyAt}, open resolved at ${resolvedAt}`);
  });

  it('accepts a logger that signals readiness by closing fd 5', async () => {
    const io = await openIO({ stdin: '', stdout: uri('&mode=close-ready'), stderr: uri('&mode=close-ready'), terminal: false }, ctx());
    ios.push(io);
    assert.equal(report().argv.includes('close-ready'), true);
  });

  it('fails clearly when the logger never signals ready, and stops it', async () => {
    const mode = { kind: 'binary' as const, stdin: '', path: logger, args: ['dir', dir, 'mode', 'never-ready'] };
    await assert.rejects(BinaryIO.open(mode, { ...ctx(), readyTimeoutMs: 300 }), /did not signal ready .* within 300 ms/);
    const pid = report().pid;
    await waitFor(() => !alive(pid) || hasExited(pid), { what: 'the silent logger to be stopped' });
  });

  it('fails clearly when the logger cannot be started', async () => {
    const mode = { kind: 'binary' as const, stdin: '', path: join(dir, 'missing'), args: [] };
    await assert.rejects(BinaryIO.open(mode, ctx()), /failed to start logging binary .*missing: .*ENOENT/);
  });

  it('SIGKILLs a logger that ignores SIGTERM after the stop timeout', async () => {
    const mode = { kind: 'binary' as const, stdin: '', path: logger, args: ['dir', dir, 'mode', 'stubborn'] };
    const io = await BinaryIO.open(mode, { ...ctx(), stopTimeoutMs: 300 });
    io.close();
    io.close(); // idempotent
    const started = Date.now();
    await io.whenClosed();
    assert.ok(Date.now() - started >= 250, 'waited for the stop timeout');
    await waitFor(() => report().sigterm, { what: 'the logger to record SIGTERM' });
    assert.ok(hasExited(report().pid));
  });

  it("copies a terminal's output into the logger's stdout pipe (binary:// + terminal)", async () => {
    const socketRoot = join(dir, 'run');
    mkdirSync(socketRoot);
    const mode = { kind: 'binary' as const, stdin: '', path: logger, args: ['dir', dir] };
    const io = await ConsoleIO.open(mode, { ...ctx(), socketRoot });
    ios.push(io);
    const { id, pid } = await sandbox.create(io, ['sh', '-c', 'echo tty-to-logger; echo to-stderr >&2']);
    await sandbox.start(id);
    await waitExit(pid);
    io.processExited();
    await io.drained(5000);
    await waitFor(() => report().stdout.eof, { what: 'the console output to end at the logger' });
    const text = readFileSync(join(dir, 'stdout'), 'utf8');
    assert.match(text, /tty-to-logger\r\nto-stderr\r\n/);
    assert.equal(report().stderr.bytes, 0);
    io.close();
    await io.whenClosed();
    assert.ok(existsSync(join(dir, 'stderr')));
  });
});
