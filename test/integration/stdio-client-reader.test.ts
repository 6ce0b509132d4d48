/**
 * An output FIFO is copied into only once its client reads it (shim/stdio/fifo.ts), as Go's shim
 * does with its blocking open: a FIFO's buffer is freed with its last open end, so what a process
 * wrote and the shim copied before the client opened the FIFO, then closed at EOF, was lost — a
 * `ctr run --rm … echo` printed nothing about once in 40 runs when the shim was fast. Real FIFOs,
 * real pipes; this process plays the container (it writes to the container-side end) and the client.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadNative } from '../../native';
import { PipeIO } from '../../shim/stdio/pipe-io';
import { type FifoReader, NO_READER_IDLE_ONLY, READER_IDLE_ONLY, gaveUpIdle, makeFifos, readFifo, writeFifo } from '../fixtures/stdio-clients';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('stdio: output FIFOs wait for their client’s reader', function () {
  this.timeout(20_000);
  let dir: string;
  const ios: PipeIO[] = [];

  before(function () {
    requireSystem(this);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stdio-client-'));
  });
  afterEach(() => {
    for (const io of ios.splice(0)) io.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const splice of [true, false]) {
    it(`output written and ended before the client opened the FIFO reaches it (${splice ? 'splice' : 'stream'} path)`, async () => {
      const { out } = makeFifos(dir, ['out'] as const);
      const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), splice });
      ios.push(io);
      const containerEnd = io.runcStdio[1];
      assert.equal(typeof containerEnd, 'number');
      writeSync(containerEnd as number, 'written before anyone read\n');
      let started = false;
      const start = io.containerStarted().then(() => (started = true)); // drops our container end: the pipe is at EOF
      await delay(50); // a window in which nothing may happen: no client yet
      assert.equal(started, false, 'containerStarted waits for the client, as Go’s Create does');
      const reader = readFifo(out);
      await start;
      assert.equal((await reader.ended).toString(), 'written before anyone read\n');
    });
  }

  it('a client that never comes: containerStarted gives up after the patience, says so, and copying goes on', async () => {
    const { out } = makeFifos(dir, ['out'] as const);
    const warnings: Array<[string, Record<string, string | number>]> = [];
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), clientPatienceMs: 100, warn: (message, fields) => warnings.push([message, fields]) });
    ios.push(io);
    const containerEnd = io.runcStdio[1] as number;
    writeSync(containerEnd, 'kept in the FIFO\n');
    await io.containerStarted();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.[0] ?? '', /no client opened the output FIFO/);
    assert.equal(warnings[0]?.[1]['path'], out);
  });

  it('leaves the container’s output pipes at the kernel’s size (64 KiB here: their size counts against root’s pipe quota node-wide)', () => {
    const native = loadNative();
    const [r, w] = native.pipe();
    const kernels = native.getPipeSize(r);
    native.close(r);
    native.close(w);
    const { out, err } = makeFifos(dir, ['out', 'err'] as const);
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: err }, { native });
    ios.push(io);
    assert.deepEqual([native.getPipeSize(io.runcStdio[1] as number), native.getPipeSize(io.runcStdio[2] as number)], [kernels, kernels]);
  });

  it('a client already reading: the FIFO is opened at once and containerStarted does not wait', async () => {
    const { out } = makeFifos(dir, ['out'] as const);
    const reader = readFifo(out);
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), clientPatienceMs: 60_000 });
    ios.push(io);
    writeSync(io.runcStdio[1] as number, 'straight through\n');
    await io.containerStarted(); // with 60 s of patience, only an open FIFO lets this return before the test's timeout
    assert.equal((await reader.ended).toString(), 'straight through\n');
  });

  it('a FIFO removed while waiting: containerStarted rejects with the error, and a process that never gets there crashes nothing', async () => {
    const { out } = makeFifos(dir, ['out'] as const);
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), clientPatienceMs: 60_000 });
    ios.push(io);
    const { other } = makeFifos(dir, ['other'] as const);
    const never = PipeIO.open({ kind: 'fifo', stdin: '', stdout: other, stderr: '' }, { native: loadNative(), clientPatienceMs: 60_000 });
    ios.push(never);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      rmSync(out);
      rmSync(other);
      await assert.rejects(io.containerStarted(), { code: 'ENOENT' });
      await never.drained(1000); // its wait failed too, with nobody awaiting it
      await new Promise((resolve) => setImmediate(resolve)); // unhandled rejections are reported after the microtasks
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  describe('inFlight: what the process wrote and its client has not read yet (held before the exit is applied)', () => {
    const BYTES = 256 * 1024; // four FIFOs full: most of it is still in the container pipe at first
    /**
     * Writes what a process wrote before it exited, at once: the container pipe (the kernel's
     * 64 KiB, as the shim leaves it) is made room enough for it first, so the write never blocks.
     */
    const writeAll = (io: PipeIO): void => {
      const fd = io.runcStdio[1] as number;
      loadNative().setPipeSize(fd, 1 << 20);
      writeSync(fd, Buffer.alloc(BYTES, 0x61));
    };
    /** A client already reading (paused at once), the process's output written, its end closed (EOF after the copy). */
    const wroteAndExited = async (splice = true): Promise<{ io: PipeIO; reader: FifoReader }> => {
      const { out } = makeFifos(dir, ['out'] as const);
      const reader = readFifo(out);
      reader.socket.pause();
      const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), splice });
      ios.push(io);
      writeAll(io);
      await io.containerStarted(); // drops the container end, ours the last: the process is gone, EOF after the copy
      return { io, reader };
    };

    for (const splice of [true, false]) {
      it(`settles only once the client has read everything, however slowly it reads (${splice ? 'splice' : 'stream'} path)`, async () => {
        const { io, reader } = await wroteAndExited(splice);
        const inFlight = io.inFlight({ idleMs: 60_000, idleNoReaderMs: 60_000, maxMs: 60_000 });
        assert.ok(inFlight, 'output is in flight');
        let settled = false;
        void inFlight.then(() => (settled = true));
        await delay(50); // a window in which nothing may happen: the client reads nothing
        assert.equal(settled, false);
        reader.socket.resume();
        assert.deepEqual(await inFlight, { delivered: true });
        assert.equal(reader.bytes, BYTES, 'the client had every byte when the wait ended');
        assert.equal((await reader.ended).length, BYTES);
      });
    }

    it('gives up once nothing moved for idleMs (the client stopped reading), and nothing is lost by that', async () => {
      const { io, reader } = await wroteAndExited();
      await gaveUpIdle(io.inFlight({ idleMs: 100, idleNoReaderMs: 100, maxMs: 60_000 })); // with the reader paused, only the idle limit ends this
      assert.ok(reader.bytes < BYTES, 'settled with output still unread');
      reader.socket.resume();
      assert.equal((await reader.ended).length, BYTES, 'what was unread is still there for the client');
    });

    for (const splice of [true, false]) {
      const path = splice ? 'splice' : 'stream';
      it(`a client that opened its FIFO and never read: the wait gives up after idleNoReaderMs, not idleMs (${path} path)`, async () => {
        const { out } = makeFifos(dir, ['out'] as const);
        const client = openSync(out, fsc.O_RDONLY | fsc.O_NONBLOCK); // opened as ctr opens it, never read
        try {
          const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), splice });
          ios.push(io);
          writeAll(io);
          await io.containerStarted();
          assert.equal((await gaveUpIdle(io.inFlight(NO_READER_IDLE_ONLY))).clientRead, 0);
        } finally {
          closeSync(client);
        }
      });

      it(`a client that read, then stopped: it counts as a reader, and the wait gives up after idleMs (${path} path)`, async () => {
        const { out } = makeFifos(dir, ['out'] as const);
        const reader = readFifo(out);
        reader.socket.once('data', () => reader.socket.pause()); // one chunk, then it stops
        const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), splice });
        ios.push(io);
        writeAll(io);
        await io.containerStarted();
        await waitFor(() => reader.bytes > 0, { what: 'the client to read something' });
        const outcome = await gaveUpIdle(io.inFlight(READER_IDLE_ONLY));
        assert.ok(outcome.clientRead >= reader.bytes, JSON.stringify(outcome));
        reader.socket.resume();
        assert.equal((await reader.ended).length, BYTES);
      });
    }

    it('nothing in flight once the client has read it all: undefined, no wait at all', async () => {
      const { io, reader } = await wroteAndExited();
      reader.socket.resume();
      await reader.ended;
      await io.drained(5_000);
      assert.equal(io.inFlight({ idleMs: 60_000, idleNoReaderMs: 60_000, maxMs: 60_000 }), undefined);
    });

    it('a process that wrote nothing to its pipes has nothing in flight once its copies ended', async () => {
      const io = PipeIO.open({ kind: 'null' }, { native: loadNative() });
      ios.push(io);
      await io.containerStarted();
      assert.equal(io.inFlight({ idleMs: 60_000, idleNoReaderMs: 60_000, maxMs: 60_000 }), undefined);
    });
  });

  it('close() while waiting for the client releases everything and ends the wait', async () => {
    const { out } = makeFifos(dir, ['out'] as const);
    const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative(), clientPatienceMs: 60_000 });
    const start = io.containerStarted();
    io.close();
    await start;
    await io.drained(1000);
  });

  describe('the client’s side opens while runc runs (runcStarted), as Go’s shim opens it after runc', () => {
    it('open refuses a path that is missing or not a FIFO, before anything runs', () => {
      const file = join(dir, 'plain');
      writeFileSync(file, '');
      assert.throws(() => PipeIO.open({ kind: 'fifo', stdin: '', stdout: join(dir, 'missing'), stderr: '' }, { native: loadNative() }), { code: 'ENOENT' });
      assert.throws(() => PipeIO.open({ kind: 'fifo', stdin: file, stdout: '', stderr: '' }, { native: loadNative() }), { code: 'EINVAL', message: /is not a FIFO/ });
    });

    it('the FIFOs are opened by runcStarted, and what the container wrote before reaches the client', async () => {
      const { inp, out } = makeFifos(dir, ['inp', 'out'] as const);
      const reader = readFifo(out);
      const io = PipeIO.open({ kind: 'fifo', stdin: inp, stdout: out, stderr: '' }, { native: loadNative() });
      ios.push(io);
      writeSync(io.runcStdio[1] as number, 'before the FIFO was open\n'); // waits in the container pipe
      assert.throws(() => writeFifo(inp), { code: 'ENXIO' }, 'no reader of stdin before runc runs');
      io.runcStarted();
      io.runcStarted(); // idempotent
      writeFifo(inp).end('to the container\n');
      await io.containerStarted();
      assert.equal((await reader.ended).toString(), 'before the FIFO was open\n');
    });

    it('CloseIO before runcStarted (a restored process before its Start): stdin still reaches EOF once the client is done', async () => {
      const { inp } = makeFifos(dir, ['inp'] as const);
      const io = PipeIO.open({ kind: 'fifo', stdin: inp, stdout: '', stderr: '' }, { native: loadNative() });
      ios.push(io);
      io.closeStdin();
      io.runcStarted();
      writeFifo(inp).end('last words\n');
      // read the container's end (ours until close()) without blocking, until EOF
      const containerEnd = io.runcStdio[0] as number;
      loadNative().setNonBlocking(containerEnd, true);
      const chunk = Buffer.alloc(256);
      let read = '';
      await waitFor(
        () => {
          for (;;) {
            let n: number;
            try {
              n = readSync(containerEnd, chunk, 0, chunk.length, null);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
              throw err;
            }
            if (n === 0) return true; // EOF: no keep-open writer was left behind
            read += chunk.toString('latin1', 0, n);
          }
        },
        { what: 'EOF on the container’s stdin' },
      );
      assert.equal(read, 'last words\n');
    });

    it('a FIFO removed between open and runcStarted: runcStarted does not throw, containerStarted rejects with the error', async () => {
      const { out } = makeFifos(dir, ['out'] as const);
      const io = PipeIO.open({ kind: 'fifo', stdin: '', stdout: out, stderr: '' }, { native: loadNative() });
      ios.push(io);
      rmSync(out);
      io.runcStarted();
      await assert.rejects(io.containerStarted(), { code: 'ENOENT' });
    });
  });
});
