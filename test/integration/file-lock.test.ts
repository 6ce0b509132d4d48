/**
 * The lock a spare takes to open its door (shim/util/file-lock.ts), against the kernel and another
 * implementation of flock(2), util-linux's flock(1): held, it keeps others out for a moment; its
 * holder killed or gone, it keeps out nobody; no child inherits it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative, type Native } from '../../native';
import { takeFileLock } from '../../shim/util/file-lock';
import { requireSystem } from '../helpers/system';

describe('shim/util/file-lock (real kernel, flock(1) beside it)', function () {
  let native: Native;
  let dir: string;
  let lock: string;
  const children: ChildProcess[] = [];

  before(function () {
    requireSystem(this, ['flock']);
    native = loadNative();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsrunc-lock-'));
    lock = join(dir, 'door.opening');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Kills `child` and what it started (its own process group), and waits for its exit. */
  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-(child.pid ?? 0), 'SIGKILL');
    await exited;
  }

  /** flock(1) holding the lock while `script` runs (-o: the script does not inherit it); resolves once it holds it. */
  async function holder(script = 'exec sleep 30'): Promise<ChildProcess> {
    const child = spawn('flock', ['-o', lock, 'sh', '-c', `echo held; ${script}`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
    });
    return child;
  }

  it('takes a free lock (creating the file) and lets go of it (removing it); another open of the file is kept out meanwhile', () => {
    const release = takeFileLock(native, lock, 0);
    assert.ok(release);
    assert.ok(existsSync(lock));
    assert.equal(takeFileLock(native, lock, 20), undefined, 'a second open file description waits, then gives up');
    release();
    assert.ok(!existsSync(lock), 'the holder removes it as it lets go');
    const again = takeFileLock(native, lock, 0);
    assert.ok(again);
    again();
  });

  it('gives up after the wait while another process holds it', async () => {
    await holder();
    const started = performance.now();
    assert.equal(takeFileLock(native, lock, 30), undefined);
    assert.ok(performance.now() - started >= 30, 'it waited');
  });

  it('takes it once the holder lets go within the wait', async () => {
    await holder(`while [ ! -e '${lock}.go' ]; do sleep 0.01; done`);
    writeFileSync(`${lock}.go`, '');
    const release = takeFileLock(native, lock, 10_000);
    assert.ok(release);
    release();
  });

  it('takes it at once when its holder was killed: the file left behind keeps out nobody', async () => {
    const child = await holder();
    await stop(child);
    assert.ok(existsSync(lock));
    const release = takeFileLock(native, lock, 0);
    assert.ok(release);
    release();
  });

  it('is not inherited: a program a child runs while it is held does not have the file open', async () => {
    const release = takeFileLock(native, lock, 0);
    assert.ok(release);
    try {
      const child = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
      children.push(child);
      await new Promise((resolve) => child.once('spawn', resolve));
      const open = readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${child.pid}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      assert.ok(!open.includes(lock), open.join(' '));
    } finally {
      release();
    }
  });

  it('a file removed and made again while it waited: it locks the one at the path, not the one it had opened', async () => {
    // the holder waits until we have the file open (waiting for the lock), then replaces it and lets go
    await holder(`until [ -n "$(find /proc/${process.pid}/fd -lname '${lock}' 2>/dev/null)" ]; do sleep 0.01; done; rm '${lock}'; : > '${lock}'`);
    const release = takeFileLock(native, lock, 10_000);
    assert.ok(release);
    const tryOther = (): Promise<number | null> => new Promise((resolve) => spawn('flock', ['-n', lock, 'true'], { stdio: 'ignore' }).once('exit', resolve));
    assert.equal(await tryOther(), 1, 'the lock is on the file now at the path');
    release();
    assert.equal(await tryOther(), 0);
  });

  it('answers undefined when the file cannot be opened', () => {
    assert.equal(takeFileLock(native, join(dir, 'missing', 'door.opening'), 0), undefined);
  });
});
