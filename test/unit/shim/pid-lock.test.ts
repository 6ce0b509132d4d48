/**
 * The lock a spare holds while it opens its door: it names its holder, so a holder killed while
 * holding it (a zombie, or gone) holds up nobody, while a live holder is waited for, then refused.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { releasePidLock, takePidLock } from '../../../shim/util/pid-lock';
import { tempDir } from './fakes';

describe('shim/util/pid-lock', () => {
  let dir: ReturnType<typeof tempDir>;
  let lock: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = tempDir();
    lock = join(dir.path, 'door.opening');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    dir.cleanup();
  });

  /** A live process that is not us; its script's first line of output. */
  async function sleeper(script = 'echo $$; exec sleep 30'): Promise<{ child: ChildProcess; firstLine: string }> {
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const firstLine = await new Promise<string>((resolve) => {
      let text = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) resolve(text.split('\n')[0] ?? '');
      });
    });
    return { child, firstLine };
  }

  it('takes a free lock with our pid in it, and release removes it; nothing else is left', () => {
    assert.equal(takePidLock(lock, 0), true);
    assert.equal(readFileSync(lock, 'latin1'), `${process.pid}\n`);
    releasePidLock(lock);
    assert.deepEqual(readdirSync(dir.path), []);
  });

  it('refuses a lock a live process holds, after waiting for it', async () => {
    const { child } = await sleeper();
    writeFileSync(lock, `${child.pid}\n`);
    const started = Date.now();
    assert.equal(takePidLock(lock, 30), false);
    assert.ok(Date.now() - started >= 30, 'it waited');
    assert.equal(readFileSync(lock, 'latin1'), `${child.pid}\n`, 'the holder keeps it');
    releasePidLock(lock); // not ours: left alone
    assert.deepEqual(readdirSync(dir.path), ['door.opening']);
  });

  it('takes the lock once its live holder lets go within the wait', async () => {
    const { child } = await sleeper(`echo $$; while [ ! -e '${lock}.go' ]; do sleep 0.01; done; rm '${lock}'; exec sleep 30`);
    writeFileSync(lock, `${child.pid}\n`);
    writeFileSync(`${lock}.go`, '');
    assert.equal(takePidLock(lock, 10_000), true);
    assert.equal(readFileSync(lock, 'latin1'), `${process.pid}\n`);
  });

  it('takes over the lock of a holder that is gone', () => {
    const gone = spawnSync('/bin/true').pid;
    writeFileSync(lock, `${gone}\n`);
    assert.equal(takePidLock(lock, 0), true);
    assert.equal(readFileSync(lock, 'latin1'), `${process.pid}\n`);
    assert.deepEqual(readdirSync(dir.path), ['door.opening'], 'no file moved aside is left');
  });

  it('takes over the lock of a holder that is a zombie (killed, not yet reaped)', async () => {
    // `true` exits at once; its parent became `sleep`, which never reaps it
    const { firstLine } = await sleeper('true & echo $!; exec sleep 30');
    const zombie = Number(firstLine);
    const deadline = Date.now() + 5000;
    while (!readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z ')) {
      assert.ok(Date.now() < deadline, 'the child became a zombie');
      await new Promise((resolve) => setImmediate(resolve));
    }
    writeFileSync(lock, `${zombie}\n`);
    assert.equal(takePidLock(lock, 0), true);
    assert.equal(readFileSync(lock, 'latin1'), `${process.pid}\n`);
  });

  it('takes over a lock with no pid in it (an older shim’s empty lock)', () => {
    writeFileSync(lock, '');
    assert.equal(takePidLock(lock, 0), true);
    assert.equal(readFileSync(lock, 'latin1'), `${process.pid}\n`);
  });
});
