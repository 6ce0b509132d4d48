/**
 * The splice(2) copier (shim/stdio/splice-copy.ts) and PipeIO's use of it, on the real kernel:
 * 64 MiB pipe → FIFO byte-exact through a slow reader (back-pressure reaches the writer), EOF
 * propagated, EPIPE and EINVAL handled, and a real runc container's stdout/stderr delivered
 * byte-exact through the spliced and the stream paths.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative, type Native } from '../../native';
import { type ProcessMonitor } from '../../shim/reaper';
import { type OutputFifoFds, openOutputFifoFdIfRead } from '../../shim/stdio/fifo';
import { openIO } from '../../shim/stdio/io';
import { PipeIO } from '../../shim/stdio/pipe-io';
import { SpliceCopy } from '../../shim/stdio/splice-copy';
import { type ProcessIO } from '../../shim/stdio/types';
import { makeFifos, readFifo, sha256 } from '../fixtures/stdio-clients';
import { RuncSandbox, waitExit } from '../fixtures/stdio-runc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const noMonitor: ProcessMonitor = {
  spawn: () => {
    throw new Error('pipe IO must not spawn');
  },
  subscribe: () => {
    throw new Error('unused');
  },
  onExit: () => () => undefined,
  reapNow: () => undefined,
};

/** True while `fd` is open in this process. */
function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('stdio: splice copier on the real kernel', function () {
  this.timeout(60_000);
  let dir: string;
  let native: Native;

  before(function () {
    requireSystem(this, ['cat']);
    native = loadNative();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stdio-splice-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies 64 MiB pipe → FIFO byte-exact through a slow reader, with back-pressure, and ends it at EOF', async () => {
    const data = randomBytes(64 << 20);
    writeFileSync(join(dir, 'data'), data);
    const { out } = makeFifos(dir, ['out'] as const);
    const reader = readFifo(out);
    const fifo = openOutputFifoFdIfRead(out) as OutputFifoFds; // the client reads first, as containerd's do
    reader.socket.pause();
    const [r, w] = native.pipe();
    const writer = spawn('cat', [join(dir, 'data')], { stdio: ['ignore', w, 'inherit'] });
    const writerExit = new Promise<number | null>((resolve) => writer.once('exit', resolve));
    closeSync(w);
    const copy = new SpliceCopy(native, r, fifo.writer);
    // the reader is not reading: the copier must stop on a full FIFO, not buffer
    await waitFor(() => copy.waitingOn === 'destination', { what: 'the copier to wait for room in the FIFO' });
    assert.ok(copy.moved <= 1 << 20, `moved ${copy.moved} bytes into a FIFO nobody reads`);
    assert.equal(writer.exitCode, null, 'the writer is held back');
    // now read slowly: a pause after every chunk
    reader.socket.on('data', () => {
      reader.socket.pause();
      setImmediate(() => reader.socket.resume());
    });
    reader.socket.resume();
    const outcome = await copy.done;
    assert.deepEqual(outcome, { kind: 'eof', bytes: data.length });
    closeSync(fifo.keepOpenReader);
    const received = await reader.ended;
    assert.equal(received.length, data.length);
    assert.equal(sha256(received), sha256(data));
    assert.equal(await writerExit, 0);
    assert.equal(isOpen(r), false, 'source closed');
  });

  it('stops on EPIPE when the destination has no reader, closing both ends', async () => {
    const [r, w] = native.pipe();
    const [dr, dw] = native.pipe();
    closeSync(dr);
    const copy = new SpliceCopy(native, r, dw);
    writeSync(w, 'data nobody will read');
    const outcome = await copy.done;
    assert.equal(outcome.kind, 'destinationClosed');
    assert.deepEqual([isOpen(r), isOpen(dw)], [false, false]);
    closeSync(w);
  });

  it('hands both fds back when the kernel refuses to splice (EINVAL: an O_APPEND file)', async () => {
    const [r, w] = native.pipe();
    const file = openSync(join(dir, 'log'), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    const copy = new SpliceCopy(native, r, file);
    writeSync(w, 'x');
    const outcome = await copy.done;
    assert.equal(outcome.kind, 'unsupported');
    if (outcome.kind !== 'unsupported') return;
    assert.deepEqual([outcome.source, outcome.destination], [r, file]);
    assert.deepEqual([isOpen(r), isOpen(file)], [true, true]);
    for (const fd of [r, w, file]) closeSync(fd);
  });

  it('close() stops a copy and closes both fds once', async () => {
    const [r, w] = native.pipe();
    const [dr, dw] = native.pipe();
    const copy = new SpliceCopy(native, r, dw);
    copy.close();
    copy.close();
    assert.deepEqual(await copy.done, { kind: 'closed', bytes: 0 });
    assert.deepEqual([isOpen(r), isOpen(dw)], [false, false]);
    closeSync(w);
    closeSync(dr);
  });

  it('PipeIO falls back to streams when splice refuses, losing nothing', async () => {
    const refusing: Native = Object.assign(Object.create(native) as Native, {
      splice: () => {
        throw Object.assign(new Error('EINVAL: invalid argument, splice'), { code: 'EINVAL' });
      },
    });
    const { out } = makeFifos(dir, ['out'] as const);
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: refusing });
    const reader = readFifo(out);
    const stdout = io.runcStdio[1];
    assert.equal(typeof stdout, 'number');
    writeSync(stdout as number, 'through the fallback\n');
    await io.containerStarted(); // our copy of the container end is closed: EOF follows
    assert.equal((await reader.ended).toString(), 'through the fallback\n');
    await io.drained(2000);
    io.close();
  });

  it('PipeIO reports an output copy that ends before EOF (what was left in the pipe is lost)', async () => {
    const failing: Native = Object.assign(Object.create(native) as Native, {
      splice: () => {
        throw Object.assign(new Error('EIO: i/o error, splice'), { code: 'EIO' });
      },
    });
    const { out } = makeFifos(dir, ['out'] as const);
    const warnings: { message: string; fields: Record<string, string | number> }[] = [];
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: failing, warn: (message, fields) => warnings.push({ message, fields }) });
    const reader = readFifo(out);
    writeSync(io.runcStdio[1] as number, 'lost\n');
    await io.containerStarted();
    assert.equal((await reader.ended).length, 0);
    assert.deepEqual(warnings, [{ message: 'output copy failed: what was still in the pipe is lost', fields: { fd: 1, path: out, bytes: 0, error: 'EIO: i/o error, splice' } }]);
    io.close();
  });
});

describe('stdio: PipeIO output through splice with real runc containers', function () {
  this.timeout(60_000);
  let sandbox: RuncSandbox;
  let dir: string;
  const ios: ProcessIO[] = [];

  before(function () {
    requireSystem(this, ['runc']);
    sandbox = new RuncSandbox();
    sandbox.writeRootfsFile('out.bin', randomBytes(20 << 20));
    sandbox.writeRootfsFile('err.bin', randomBytes(1 << 20));
  });
  after(async () => {
    await sandbox?.remove();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stdio-pipeio-'));
  });
  afterEach(() => {
    for (const io of ios.splice(0)) io.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const splice of [true, false]) {
    it(`delivers 20 MiB stdout and 1 MiB stderr byte-exact (${splice ? 'splice' : 'stream'} path)`, async () => {
      const fifos = makeFifos(dir, ['out', 'err'] as const);
      const mode = { kind: 'fifo' as const, stdin: '', stdout: fifos.out, stderr: fifos.err };
      const io = splice
        ? await openIO({ stdin: '', stdout: fifos.out, stderr: fifos.err, terminal: false }, { native: loadNative(), monitor: noMonitor, containerId: 'c', namespace: 'n' })
        : PipeIO.open(mode, { native: loadNative(), splice: false });
      ios.push(io);
      const out = readFifo(fifos.out);
      const err = readFifo(fifos.err);
      const { id, pid } = await sandbox.create(io, ['sh', '-c', 'cat /out.bin; cat /err.bin >&2']);
      await sandbox.start(id);
      await waitExit(pid);
      io.processExited();
      const [o, e] = await Promise.all([out.ended, err.ended]);
      assert.equal(sha256(o), sha256(readFileSync(join(sandbox.rootfs, 'out.bin'))));
      assert.equal(sha256(e), sha256(readFileSync(join(sandbox.rootfs, 'err.bin'))));
      await io.drained(2000);
      await sandbox.delete(id);
    });
  }
});
