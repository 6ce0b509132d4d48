/**
 * The native layer against the real kernel: each wrapper does what its syscall does.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative, type Native } from '../../native';
import { requireSystem } from '../helpers/system';

describe('native (real kernel)', function () {
  let n: Native;
  let dir: string;

  before(function () {
    requireSystem(this, ['setpriv']);
    n = loadNative(); // also checks every struct layout against koffi's C ABI layout
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsrunc-native-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes a file descriptor over a socketpair (SCM_RIGHTS) with its data', () => {
    const [a, b] = n.socketpair();
    n.setNonBlocking(b, true);
    const file = join(dir, 'f');
    const fd = openSync(file, 'w+');
    writeSync(fd, 'through the socket');
    n.sendFd(a, fd, Buffer.from('/dev/pts/7'));
    const got = n.recvFd(b);
    assert.ok(got);
    assert.equal(got.data.toString(), '/dev/pts/7');
    assert.notEqual(got.fd, fd);
    assert.equal(statSync(`/proc/self/fd/${got.fd}`).ino, statSync(file).ino);
    assert.equal(readFileSync(`/proc/self/fd/${got.fd}`, 'utf8'), 'through the socket');
    assert.equal(n.recvFd(b), null, 'nothing else is waiting: EAGAIN → null');
    for (const f of [a, b, fd, got.fd]) n.close(f);
  });

  it('refuses a message without a descriptor', () => {
    const [a, b] = n.socketpair();
    writeSync(a, 'no fd here');
    assert.throws(() => n.recvFd(b), { code: 'EBADMSG' });
    n.close(a);
    n.close(b);
  });

  it('reads the peer credentials of a real connection, also of another uid', async () => {
    const path = join(dir, 's.sock');
    const creds: { pid: number; uid: number; gid: number }[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      creds.push(n.getPeerCred(fd));
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    chmodSync(dir, 0o755); // let nobody reach the socket: the credentials are what we test
    chmodSync(path, 0o777);
    try {
      await new Promise<void>((resolve, reject) => {
        const c = net.connect(path);
        c.on('close', () => resolve()).on('error', reject);
      });
      assert.deepEqual(creds[0], { pid: process.pid, uid: 0, gid: 0 });
      // a client running as nobody (65534)
      const child = spawn('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', process.execPath, '-e', `require('net').connect(${JSON.stringify(path)}).on('close',()=>{}).on('error',()=>{})`], { stdio: 'inherit' });
      const pid = child.pid;
      await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(creds.length, 2);
      assert.equal(creds[1]?.pid, pid);
      assert.equal(creds[1]?.uid, 65534);
    } finally {
      server.close();
    }
  });

  it('makes a real pipe that carries bytes to a Node stream, and resizes it', async () => {
    const [r, w] = n.pipe();
    assert.equal(n.setPipeSize(w, 1 << 20), 1 << 20);
    assert.equal(n.getPipeSize(r), 1 << 20);
    const stream = new net.Socket({ fd: r, readable: true, writable: false });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => stream.on('end', resolve));
    writeSync(w, 'hello ');
    writeSync(w, 'pipe');
    n.close(w);
    await ended;
    assert.equal(Buffer.concat(chunks).toString(), 'hello pipe');
    stream.destroy();
  });

  it('splices bytes between two pipes without user-space copies', () => {
    const [r1, w1] = n.pipe({ nonBlocking: true });
    const [r2, w2] = n.pipe({ nonBlocking: true });
    const payload = Buffer.alloc(100_000, 7);
    let written = 0;
    while (written < 60_000) written += writeSync(w1, payload, written, 60_000 - written);
    let moved = 0;
    for (;;) {
      const m = n.splice(r1, w2, 1 << 16);
      if (m === null || m === 0) break;
      moved += m;
    }
    assert.equal(moved, 60_000);
    assert.equal(n.splice(r1, w2, 1 << 16), null, 'empty source: EAGAIN → null');
    const out = Buffer.alloc(70_000);
    let read = 0;
    for (;;) {
      try {
        const k = readSync(r2, out, read, out.length - read, null);
        if (k === 0) break;
        read += k;
      } catch {
        break; // EAGAIN: drained
      }
    }
    assert.equal(read, 60_000);
    assert.ok(out.subarray(0, read).every((b) => b === 7));
    for (const f of [r1, w1, r2, w2]) n.close(f);
  });

  it('dup2 leaves the new fd inheritable, unless asked to make it close-on-exec', () => {
    const cloexec = (fd: number): boolean => {
      const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
      return (Number.parseInt(flags, 8) & 0o2000000) !== 0;
    };
    const src = openSync('/dev/null', 'r');
    const a = openSync('/dev/null', 'r');
    const b = openSync('/dev/null', 'r');
    try {
      assert.ok(cloexec(a), "Node's own fds are close-on-exec");
      n.dup2(src, a);
      assert.equal(cloexec(a), false);
      n.dup2(src, b, { closeOnExec: true });
      assert.equal(cloexec(b), true);
    } finally {
      for (const fd of [src, a, b]) closeSync(fd);
    }
  });

  it('creates FIFOs', () => {
    const path = join(dir, 'fifo');
    n.mkfifo(path, 0o600);
    assert.ok(statSync(path).isFIFO());
    const rd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const wr = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    assert.ok(n.isNonBlocking(wr));
    n.setNonBlocking(wr, false);
    assert.ok(!n.isNonBlocking(wr));
    closeSync(rd);
    closeSync(wr);
    assert.throws(() => n.mkfifo(path, 0o600), { code: 'EEXIST' });
  });

  it('watches an eventfd and a pidfd in the event loop', async () => {
    const efd = n.eventfd();
    const got = new Promise<bigint | null>((resolve) => {
      const watch = n.watchFd(efd, () => {
        watch.close();
        resolve(n.readEventfd(efd));
      });
    });
    writeSync(efd, Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]));
    assert.equal(await got, 3n);
    n.close(efd);

    const child = spawn('sleep', ['0.1']);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    assert.ok(child.pid);
    const pidfd = n.pidfdOpen(child.pid);
    n.pidfdSendSignal(pidfd, 0); // alive: signal 0 checks it
    await new Promise<void>((resolve) => {
      const watch = n.watchFd(pidfd, () => {
        watch.close();
        resolve();
      });
    });
    await exited;
    assert.throws(() => n.pidfdSendSignal(pidfd, 0), { code: 'ESRCH' });
    n.close(pidfd);
    assert.throws(() => n.waitPid(1), { code: 'ECHILD' });
  });

  it('sets a window size on a pty master', () => {
    const master = openSync('/dev/ptmx', fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    n.setWindowSize(master, { rows: 33, cols: 101 });
    assert.deepEqual(n.getWindowSize(master), { rows: 33, cols: 101 });
    n.setWindowSize(master, { rows: 0x10018, cols: 80 }); // uint32 from containerd, truncated to 16 bits
    assert.deepEqual(n.getWindowSize(master), { rows: 0x18, cols: 80 });
    n.close(master);
  });
});
