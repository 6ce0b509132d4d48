/**
 * Children started with posix_spawn (shim/reaper/direct.ts, native/spawn.ts), the way the daemon
 * starts runc: real processes, real pidfds. The child must get what libuv's fork would have given
 * it — its fds exactly as asked and nothing else, every signal at its default and none blocked
 * (Node ignores SIGPIPE; an ignored signal would survive exec into runc and the container), the
 * environment and working directory asked for, the PATH lookup of that environment — and the
 * parent must learn its exit without a SIGCHLD reaper and leave no descriptor behind.
 */
import assert from 'node:assert/strict';
import { spawn as spawnChild } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable } from 'node:stream';
import sinon from 'sinon';
import { loadNative } from '../../native';
import { ExitMonitor, Reaper, type SpawnOptions, type Spawned } from '../../shim/reaper';
import { requireSystem } from '../helpers/system';

function collect(stream: Readable | null): Promise<string> {
  assert.ok(stream, 'a pipe was asked for');
  let text = '';
  stream.setEncoding('utf8').on('data', (s: string) => (text += s));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  });
}

async function output(spawned: Spawned): Promise<{ stdout: string; status: number }> {
  const [stdout, exit] = await Promise.all([collect(spawned.child.stdout), spawned.exit]);
  return { stdout, status: exit.status };
}

describe('shim/reaper/direct: children started with posix_spawn (real processes)', function () {
  this.timeout(20_000);
  let dir: string;
  let reaper: Reaper;
  let monitor: ExitMonitor;

  before(function () {
    requireSystem(this);
    dir = mkdtempSync(join(tmpdir(), 'spawn-direct-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    // never started: nothing in this process listens for SIGCHLD, as in the `delete` action
    reaper = new Reaper({ native: loadNative() });
    monitor = new ExitMonitor(reaper, loadNative());
  });
  afterEach(() => sinon.restore());

  it('pipes stdin and stdout, reports the exit status, and owns the pid until it has reaped it', async () => {
    const own = sinon.spy(reaper, 'own');
    const disown = sinon.spy(reaper, 'disown');
    const spawned = monitor.spawn('/bin/sh', ['-c', 'cat; exit 3'], { stdio: ['pipe', 'pipe', 'ignore'] });
    assert.ok(spawned.child.pid !== undefined && spawned.child.pid > 0);
    assert.deepEqual(own.firstCall.args, [spawned.child.pid], 'owned before spawn returned');
    spawned.child.stdin?.end('through the pipe\n');
    const { stdout, status } = await output(spawned);
    assert.equal(stdout, 'through the pipe\n');
    assert.equal(status, 3);
    assert.ok(disown.calledWith(spawned.child.pid));
    assert.throws(() => loadNative().waitPid(spawned.child.pid!), { code: 'ECHILD' }, 'reaped: no zombie left');
  });

  it('a child killed by a signal reports 128 + the signal; kill() works until the child is reaped', async () => {
    const spawned = monitor.spawn('/bin/sleep', ['100'], { stdio: ['ignore', 'ignore', 'ignore'] });
    assert.equal(spawned.child.kill('SIGKILL'), true);
    const exit = await spawned.exit;
    assert.deepEqual([exit.status, exit.signal], [137, 9]);
    assert.equal(spawned.child.kill('SIGKILL'), false, 'reaped: nothing to signal');
  });

  it('signals are at their defaults and none is blocked in the child, though Node ignores SIGPIPE', async () => {
    const { stdout } = await output(monitor.spawn('/bin/grep', ['-E', '^Sig(Ign|Blk):', '/proc/self/status'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.deepEqual(stdout.trim().split('\n').sort(), ['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000']);
  });

  it('the child holds the fds it was given and nothing of ours that is close-on-exec', async () => {
    const native = loadNative();
    const [read, write] = native.pipe();
    // what any exec inherits (libuv's children too): our fds without O_CLOEXEC — e.g. one the test runner's parent left open
    const flags = (fd: string): number => {
      try {
        return Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
      } catch {
        return 0o2000000; // gone (readdir's own descriptor): not inherited
      }
    };
    const inherited = new Set(readdirSync('/proc/self/fd').filter((fd) => Number(fd) > 2 && (flags(fd) & 0o2000000) === 0));
    const childFds = async (stdio: SpawnOptions['stdio']): Promise<string[]> => {
      const { stdout } = await output(monitor.spawn('/bin/ls', ['/proc/self/fd'], { stdio }));
      return stdout.trim().split('\n').filter((fd) => !inherited.has(fd));
    };
    try {
      // the listing's own directory fd is the one after the last fd given
      assert.deepEqual(await childFds(['ignore', 'pipe', 'ignore']), ['0', '1', '2', '3']);
      assert.deepEqual(await childFds(['ignore', 'pipe', 'ignore', write]), ['0', '1', '2', '3', '4']);
    } finally {
      native.close(read);
      native.close(write);
    }
  });

  it('our fds below the child’s fd count land where asked: a swap of stdout and stderr (no dup2 clobbers a source)', async () => {
    const file = join(dir, 'links');
    const script = `echo "$(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2)" > ${file}`;
    const exit = await monitor.spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 2, 1] }).exit;
    assert.equal(exit.status, 0);
    assert.equal(readFileSync(file, 'utf8'), `${readlinkSync('/proc/self/fd/2')} ${readlinkSync('/proc/self/fd/1')}\n`);
  });

  it('the environment and working directory are the ones asked for, and PATH is that environment’s', async () => {
    const bin = join(dir, 'bin');
    const cwd = join(dir, 'work');
    mkdirSync(bin);
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'marker'), '');
    writeFileSync(join(bin, 'show'), '#!/bin/sh\necho "$ONLY|$(pwd)|$(ls)"\n');
    chmodSync(join(bin, 'show'), 0o755);
    const { stdout } = await output(monitor.spawn('show', [], { cwd, env: { PATH: `${bin}:/bin:/usr/bin`, ONLY: 'this' }, stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(stdout, `this|${cwd}|marker\n`);
  });

  it('PATH is searched as execvp in the child would: a relative entry from the child’s working directory; a file there but not executable is EACCES', async () => {
    const base = join(dir, 'lookup');
    mkdirSync(join(base, 'bin'), { recursive: true });
    mkdirSync(join(base, 'noexec'));
    writeFileSync(join(base, 'bin', 'tool'), '#!/bin/sh\necho relative\n');
    chmodSync(join(base, 'bin', 'tool'), 0o755);
    writeFileSync(join(base, 'noexec', 'tool'), '#!/bin/sh\necho never\n', { mode: 0o644 });
    // the daemon's cwd is not the child's: `bin` means <cwd>/bin, as for execvp after the chdir
    const { stdout } = await output(monitor.spawn('tool', [], { cwd: base, env: { PATH: 'bin:/bin:/usr/bin' }, stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(stdout, 'relative\n');
    const denied = monitor.spawn('tool', [], { env: { PATH: `${join(base, 'noexec')}:/nonexistent` }, stdio: ['ignore', 'ignore', 'ignore'] });
    assert.equal(denied.child.pid, undefined);
    await assert.rejects(denied.exit, { code: 'EACCES', message: 'spawn tool EACCES' });
    // a later entry with an executable one still wins, as with execvp
    const { stdout: later } = await output(monitor.spawn('tool', [], { cwd: base, env: { PATH: `${join(base, 'noexec')}:bin` }, stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(later, 'relative\n');
  });

  it('agrees with child_process (execvp) on a directory named like the command (EACCES) and on `..` under a symlinked cwd', async () => {
    const base = join(dir, 'lookup2');
    mkdirSync(join(base, 'dirs', 'tool'), { recursive: true }); // a directory called `tool`
    mkdirSync(join(base, 'real', 'sub'), { recursive: true });
    writeFileSync(join(base, 'real', 'tool'), '#!/bin/sh\necho parent-of-sub\n');
    chmodSync(join(base, 'real', 'tool'), 0o755);
    symlinkSync(join(base, 'real', 'sub'), join(base, 'link'));
    const codeOf = (env: NodeJS.ProcessEnv, cwd?: string): Promise<string | undefined> =>
      new Promise((resolve) => {
        const child = spawnChild('tool', [], { env, ...(cwd ? { cwd } : {}), stdio: 'ignore' });
        child.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
        child.once('exit', () => resolve(undefined));
      });
    const dirsOnly = { PATH: join(base, 'dirs') };
    const denied = monitor.spawn('tool', [], { env: dirsOnly, stdio: ['ignore', 'ignore', 'ignore'] });
    await assert.rejects(denied.exit, { code: 'EACCES' });
    assert.equal(await codeOf(dirsOnly), 'EACCES', 'execvp says the same');
    // `..` from <base>/link is <base>/real (the kernel follows the link), not <base>
    const up = { PATH: '..' };
    const { stdout } = await output(monitor.spawn('tool', [], { cwd: join(base, 'link'), env: up, stdio: ['ignore', 'pipe', 'ignore'] }));
    assert.equal(stdout, 'parent-of-sub\n');
    assert.equal(await codeOf(up, join(base, 'link')), undefined, 'execvp finds it too');
  });

  it('a program that is not there: no pid, the exit rejects with ENOENT, nothing owned, no fd left open', async () => {
    const own = sinon.spy(reaper, 'own');
    const before = readdirSync('/proc/self/fd').length;
    for (const command of ['no-such-runc', '/nonexistent/runc']) {
      const spawned = monitor.spawn(command, ['--version'], { env: { PATH: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
      assert.equal(spawned.child.pid, undefined);
      await assert.rejects(spawned.exit, { code: 'ENOENT' });
    }
    assert.equal(own.callCount, 0);
    assert.equal(readdirSync('/proc/self/fd').length, before);
  });

  it('leaves no descriptor behind after many children', async () => {
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) {
      const spawned = monitor.spawn('/bin/sh', ['-c', `echo ${i}`], { stdio: ['pipe', 'pipe', 'pipe'] });
      spawned.child.stdin?.end();
      spawned.child.stderr?.resume();
      assert.equal((await output(spawned)).stdout, `${i}\n`);
    }
    // a socket's fd is released when its handle closes, a tick after 'end'
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(readdirSync('/proc/self/fd').length, before);
  });
});
