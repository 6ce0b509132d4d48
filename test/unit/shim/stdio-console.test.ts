/**
 * Terminal mode at the native seam: the console socket (shim/stdio/console-socket.ts) accepting one
 * connection and receiving one fd, with its timeout and clean-up; the pty master driver
 * (shim/stdio/pty-master.ts) with scripted reads and writes: output with back-pressure, EIO while
 * the process lives (no spin: a backing-off timer), the end of output after the exit, input with
 * EAGAIN, stdin EOF delivered as ^D, resize, and closing the master exactly once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import sinon from 'sinon';
import { ConsoleSocket } from '../../../shim/stdio/console-socket';
import { PtyMaster } from '../../../shim/stdio/pty-master';
import { FakeFdIo, StdioFakeNative } from '../../fixtures/stdio-fakes';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('stdio/console-socket', () => {
  let root: string;
  let native: StdioFakeNative;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'stdio-console-unit-'));
    native = new StdioFakeNative();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** The listening socket: the only fd open right after ConsoleSocket.open. */
  const listenFd = (): number => native.openFds()[0] as number;

  it('listens on <root>/pty<random>/pty.sock', () => {
    const socket = ConsoleSocket.open(native, root);
    assert.match(socket.path, new RegExp(`^${root}/pty[^/]+/pty\\.sock$`));
    assert.deepEqual(native.calls.filter((c) => c[0] === 'listenUnix'), [['listenUnix', socket.path]]);
    socket.close();
    assert.deepEqual(readdirSync(root), []);
    assert.deepEqual(native.openFds(), []);
  });

  it('accepts one connection when the listener is readable, then receives the fd when the connection is', async () => {
    const socket = ConsoleSocket.open(native, root);
    const listener = listenFd();
    const receiving = socket.receive();
    assert.deepEqual(native.interest(listener), { readable: true, writable: false });
    const conn = native.adopt();
    native.nextAccept = conn;
    native.emit(listener, { readable: true });
    assert.equal(native.watchCount(listener), 0, 'the listener is no longer watched');
    assert.deepEqual(native.interest(conn), { readable: true, writable: false });
    const master = native.adopt();
    native.nextReceivedFd = { fd: master, data: Buffer.from('/dev/pts/3') };
    native.emit(conn, { readable: true });
    const got = await receiving;
    assert.deepEqual(got, { fd: master, data: Buffer.from('/dev/pts/3') });
    assert.deepEqual(native.openFds(), [master], 'listener and connection closed; the master is the caller’s');
    assert.deepEqual(readdirSync(root), [], 'the directory is removed');
  });

  it('needs no readiness event when runc has already connected and sent the fd', async () => {
    const socket = ConsoleSocket.open(native, root);
    native.nextAccept = native.adopt();
    native.nextReceivedFd = { fd: native.adopt(), data: Buffer.alloc(0) };
    await socket.receive();
  });

  it('rejects with the native error when the message is not exactly one fd, cleaning up', async () => {
    const socket = ConsoleSocket.open(native, root);
    native.nextAccept = native.adopt();
    sinon.stub(native, 'recvFd').throws(Object.assign(new Error('recvmsg: expected exactly one SCM_RIGHTS message with one file descriptor'), { code: 'EBADMSG' }));
    await assert.rejects(socket.receive(), /console socket: recvmsg: expected exactly one SCM_RIGHTS/);
    assert.deepEqual(native.openFds(), []);
    assert.equal(existsSync(socket.path), false);
  });

  it('times out clearly (30 s by default) and cleans up', async () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const socket = ConsoleSocket.open(native, root);
      const receiving = assert.rejects(socket.receive(), /runc did not send the terminal within 30000 ms/);
      await clock.tickAsync(30_000);
      await receiving;
      assert.deepEqual(native.openFds(), []);
      assert.deepEqual(readdirSync(root), []);
    } finally {
      clock.restore();
    }
  });

  it('close() during the wait rejects the receive; receive cannot be called twice', async () => {
    const socket = ConsoleSocket.open(native, root);
    const receiving = socket.receive();
    await assert.rejects(socket.receive(), /already used or closed/);
    socket.close();
    await assert.rejects(receiving, /closed before runc sent the terminal/);
    socket.close();
    assert.deepEqual(native.openFds(), []);
  });
});

describe('stdio/pty-master', () => {
  let native: StdioFakeNative;
  let io: FakeFdIo;
  let fd: number;
  let clock: sinon.SinonFakeTimers | undefined;

  beforeEach(() => {
    native = new StdioFakeNative();
    io = new FakeFdIo();
    fd = native.adopt();
  });
  afterEach(() => clock?.restore());

  /** An output that records what it got; `highWaterMark` small to provoke back-pressure. */
  function sink(highWaterMark = 1 << 20): Writable & { got: Buffer[]; release?: () => void; hold: boolean } {
    const w = new Writable({
      highWaterMark,
      write(chunk: Buffer, _enc, cb) {
        w.got.push(chunk);
        if (w.hold) w.release = () => cb();
        else cb();
      },
    }) as Writable & { got: Buffer[]; release?: () => void; hold: boolean };
    w.got = [];
    w.hold = false;
    return w;
  }

  it('makes the master non-blocking and copies what it reads to the output', () => {
    const out = sink();
    const master = new PtyMaster(native, fd, out, io);
    assert.deepEqual(native.calls.find((c) => c[0] === 'setNonBlocking'), ['setNonBlocking', fd, true]);
    io.reads.push(Buffer.from('hello '), Buffer.from('world'));
    native.emit(fd, { readable: true });
    assert.equal(Buffer.concat(out.got).toString(), 'hello world');
    master.close();
  });

  it('stops reading while the output is full and resumes on drain', () => {
    const out = sink(4);
    out.hold = true;
    const master = new PtyMaster(native, fd, out, io);
    io.reads.push(Buffer.from('0123456789'), Buffer.from('more'));
    native.emit(fd, { readable: true });
    assert.equal(native.interest(fd)?.readable, false, 'back-pressure: not reading');
    assert.equal(io.reads.length, 1, 'stopped after the write that filled the output');
    out.hold = false;
    out.release?.();
    assert.equal(native.interest(fd)?.readable, true);
    native.emit(fd, { readable: true });
    assert.equal(Buffer.concat(out.got).toString(), '0123456789more');
    master.close();
  });

  it('EIO while the process lives: stops watching and retries on a backing-off timer (no spin)', () => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const master = new PtyMaster(native, fd, sink(), io);
    io.whenEmpty = { throw: 'EIO' };
    native.emit(fd, { readable: true, disconnect: true });
    assert.equal(io.readCalls, 1);
    assert.equal(native.interest(fd)?.readable, false, 'no readable interest while hung up');
    assert.equal(native.emit(fd, { readable: true }), 0);
    clock.tick(49);
    assert.equal(native.interest(fd)?.readable, false);
    clock.tick(1);
    assert.equal(native.interest(fd)?.readable, true, 'retried after 50 ms');
    native.emit(fd, { readable: true });
    clock.tick(99);
    assert.equal(native.interest(fd)?.readable, false, 'the second retry waits longer');
    clock.tick(1);
    assert.equal(native.interest(fd)?.readable, true);
    // the slave is back: data flows again
    io.reads.push(Buffer.from('back'));
    io.whenEmpty = { throw: 'EAGAIN' };
    native.emit(fd, { readable: true });
    assert.equal(native.interest(fd)?.readable, true);
    master.close();
  });

  it('after the exit: reads what is left, then ends the output (EAGAIN or EIO = end)', async () => {
    const out = sink();
    const master = new PtyMaster(native, fd, out, io);
    io.reads.push(Buffer.from('last words'));
    io.whenEmpty = { throw: 'EIO' };
    let ended = false;
    out.once('finish', () => (ended = true));
    assert.equal(master.outputOver, false);
    master.processExited();
    await master.outputDone;
    assert.equal(Buffer.concat(out.got).toString(), 'last words');
    assert.equal(ended, true);
    assert.equal(master.outputOver, true);
    assert.equal(master.bytesRead, 'last words'.length);
    assert.equal(native.interest(fd)?.readable, false);
    master.close();
  });

  it('after the exit with a full output: waits for drain before ending', async () => {
    const out = sink(4);
    out.hold = true;
    const master = new PtyMaster(native, fd, out, io);
    io.reads.push(Buffer.from('0123456789'), Buffer.from('tail'));
    master.processExited();
    let done = false;
    void master.outputDone.then(() => (done = true));
    await flush();
    assert.equal(done, false);
    out.hold = false;
    out.release?.();
    await master.outputDone;
    assert.equal(Buffer.concat(out.got).toString(), '0123456789tail');
    master.close();
  });

  it('without an output, reads and discards; output is done at the exit', async () => {
    const master = new PtyMaster(native, fd, undefined, io);
    io.reads.push(Buffer.from('dropped'));
    native.emit(fd, { readable: true });
    master.processExited();
    await master.outputDone;
    master.close();
  });

  it('writes input to the master; on EAGAIN pauses the input and waits for writable', async () => {
    const master = new PtyMaster(native, fd, sink(), io);
    const input = new PassThrough();
    master.attachInput(input);
    input.write('abc');
    await flush();
    assert.equal(Buffer.concat(io.written).toString(), 'abc');
    io.writeRoom = 2;
    input.write('defgh');
    await flush();
    assert.equal(Buffer.concat(io.written).toString(), 'abcde');
    assert.equal(input.isPaused(), true);
    assert.equal(native.interest(fd)?.writable, true);
    io.writeRoom = Infinity;
    native.emit(fd, { writable: true });
    assert.equal(Buffer.concat(io.written).toString(), 'abcdefgh');
    assert.equal(native.interest(fd)?.writable, false);
    assert.equal(input.isPaused(), false);
    master.close();
  });

  it('stdin EOF is delivered as ^D, then input ends; the master stays open and output keeps flowing', async () => {
    const out = sink();
    const master = new PtyMaster(native, fd, out, io);
    const input = new PassThrough();
    master.attachInput(input);
    input.end('bye\n');
    await flush();
    assert.equal(Buffer.concat(io.written).toString(), 'bye\n\x04');
    assert.equal(input.destroyed, true);
    assert.ok(native.openFds().includes(fd));
    io.reads.push(Buffer.from('still here'));
    native.emit(fd, { readable: true });
    assert.equal(Buffer.concat(out.got).toString(), 'still here');
    master.close();
  });

  it('stdin EOF after an unterminated line sends ^D twice (the first only pushes the partial line)', async () => {
    const master = new PtyMaster(native, fd, sink(), io);
    const input = new PassThrough();
    master.attachInput(input);
    input.end('partial');
    await flush();
    assert.equal(Buffer.concat(io.written).toString(), 'partial\x04\x04');
    master.close();
  });

  it('stdin EOF while the terminal is full: ^D waits its turn behind the pending input', async () => {
    const master = new PtyMaster(native, fd, sink(), io);
    const input = new PassThrough();
    master.attachInput(input);
    io.writeRoom = 0;
    input.end('queued\n');
    await flush();
    assert.equal(io.written.length, 0);
    assert.equal(native.interest(fd)?.writable, true);
    io.writeRoom = Infinity;
    native.emit(fd, { writable: true });
    assert.equal(Buffer.concat(io.written).toString(), 'queued\n\x04');
    assert.equal(input.destroyed, true);
    assert.equal(native.interest(fd)?.writable, false);
    master.close();
  });

  it('resize sets rows = height and cols = width on the master', () => {
    const master = new PtyMaster(native, fd, sink(), io);
    master.resize({ width: 132, height: 43 });
    assert.deepEqual(native.windowSizes.get(fd), { rows: 43, cols: 132 });
    master.close();
  });

  it('close(): closes the master exactly once, watch first; idempotent', async () => {
    const master = new PtyMaster(native, fd, sink(), io);
    master.close();
    master.close();
    assert.equal(native.calls.filter((c) => c[0] === 'close' && c[1] === fd).length, 1);
    assert.equal(native.watchCount(fd), 0);
    await master.outputDone;
  });
});
