/**
 * How a spare reads containerd's options from the requester's stdin (shim/manager/spare.ts
 * readStdin): through /proc/<pid>/fd/3, at once when the writer has closed (the usual case: no
 * thread-pool round trip), and through the pool, after what it read already, while the writer is
 * still open. Real pipes, a real requester process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { loadNative } from '../../native';
import { readStdin } from '../../shim/manager/spare';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('spare: reading the requester’s stdin (fd 3)', function () {
  this.timeout(20_000);
  const children: ChildProcess[] = [];

  before(function () {
    requireSystem(this, ['sleep', 'busybox']);
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  /** A requester whose fd 3 is the read end of a fresh pipe; returns it and the write end. */
  function requester(): { pid: number; writer: number } {
    const [r, w] = loadNative().pipe();
    loadNative().setPipeSize(w, 256 * 1024); // room for the payloads below without a reader
    const child = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore', r] });
    children.push(child);
    closeSync(r);
    assert.ok(child.pid);
    return { pid: child.pid, writer: w };
  }

  it('reads everything at once when the writer has closed', async () => {
    const { pid, writer } = requester();
    const payload = Buffer.alloc(100_000, 7); // more than one 64 KiB read
    writeSync(writer, payload.subarray(0, 60_000));
    writeSync(writer, payload.subarray(60_000));
    closeSync(writer);
    assert.deepEqual(await readStdin(pid), payload);
  });

  it('while the writer is still open: what is there, then the rest until EOF, in order', async () => {
    const { pid, writer } = requester();
    writeSync(writer, 'first half, ');
    let done = false;
    const reading = readStdin(pid).then((b) => ((done = true), b));
    await delay(50); // a window in which nothing may happen: no EOF yet
    assert.equal(done, false);
    writeSync(writer, 'second half');
    closeSync(writer);
    assert.equal((await reading)?.toString(), 'first half, second half');
  });

  it('a requester without fd 3: undefined', async () => {
    // a static busybox: a dynamically linked sleep's start-up opens files as fd 3 for a moment each
    // (ld.so.cache, libc, locale files), which a read then got — even after a check that saw no fd
    // 3, if the check came before the loader opened them
    const child = spawn('busybox', ['sleep', '30'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid ?? -1;
    // exec-ed (before, the forked child still holds Node's descriptors, close-on-exec)
    await waitFor(() => readlinkSync(`/proc/${pid}/exe`).endsWith('busybox'), { what: 'busybox to run' });
    assert.ok(!readdirSync(`/proc/${pid}/fd`).includes('3'));
    assert.equal(await readStdin(pid), undefined);
  });
});
