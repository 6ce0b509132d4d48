/**
 * native/fork.ts: a Node process forked into a detached copy that works as a Node process — its
 * own pid, session and event loop (timers, the thread pool, child processes, sockets) — and that
 * ends with the exit code it was given, without hanging in Node's teardown. The test process is
 * child subreaper meanwhile, so the copies are re-parented to it and their exits can be read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExitInfo, type Native, loadNative } from '../../native';
import { FORKING_SPARE_NODE_OPTIONS } from '../../shim/manager/start';
import { skipBecause } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const NATIVE = join(__dirname, '..', '..', 'native');

/** The script: forks; each side prints one JSON line; the copy does what `mode` says. */
const SCRIPT = `
const { loadNative } = require(${JSON.stringify(NATIVE)});
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');
const say = (o) => fs.writeSync(1, JSON.stringify(o) + '\\n');
const mode = process.argv[2];
const stat = () => {
  const s = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), session: Number(f[3]) };
};
const original = process.pid;
let copy;
try {
  copy = loadNative().forkDetached();
} catch (err) {
  say({ role: 'original', error: err.message });
  process.exit(0);
}
if (!copy) {
  // the middle process is reaped from the event loop: its children, once that happened (≤ 2 s)
  const deadline = Date.now() + 2000;
  const report = () => {
    const children = fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8').trim();
    if (children !== '' && Date.now() < deadline) setTimeout(report, 5);
    else say({ role: 'original', pid: process.pid, children });
  };
  report();
} else {
  const self = Number(fs.readlinkSync('/proc/self'));
  const report = { role: 'copy', pid: process.pid, self, original, ...stat() };
  if (mode === 'throw') {
    say(report);
    setTimeout(() => { throw new Error('thrown in the copy'); }, 5);
  } else if (mode === 'natural') {
    say(report);
    setTimeout(() => undefined, 5);
  } else if (mode === 'throwing-exit-listener') {
    say(report);
    process.on('exit', () => fs.writeSync(2, 'an exit listener ran\\n'));
    process.on('exit', () => { throw new Error('thrown by an exit listener'); });
    setTimeout(() => undefined, 5);
  } else {
    const sock = ${JSON.stringify(join(tmpdir(), `tsrunc-fork-${process.pid}.sock`))};
    fs.rmSync(sock, { force: true });
    const timer = new Promise((resolve) => setTimeout(resolve, 5));
    const read = fs.promises.readFile('/proc/self/comm', 'utf8');
    const child = new Promise((resolve) => spawn('/bin/sh', ['-c', 'exit 7']).on('exit', resolve));
    const echo = new Promise((resolve, reject) => {
      const server = net.createServer((s) => s.pipe(s)).listen(sock, () => {
        const c = net.connect(sock, () => c.end('ping'));
        let got = '';
        c.on('data', (d) => (got += d)).on('end', () => { server.close(); resolve(got); }).on('error', reject);
      });
    });
    Promise.all([timer, read, child, echo]).then(([, comm, code, got]) => {
      say({ ...report, comm: comm.trim(), childCode: code, echo: got });
      process.exit(5);
    });
  }
}
`;

interface Line {
  role: 'original' | 'copy';
  pid?: number;
  self?: number;
  original?: number;
  ppid?: number;
  session?: number;
  children?: string;
  error?: string;
  comm?: string;
  childCode?: number;
  echo?: string;
}

describe('forking a Node process (native/fork.ts)', function () {
  this.timeout(30_000);
  let native: Native;
  let dir: string;
  let script: string;

  before(function () {
    if (process.platform !== 'linux') skipBecause(this, 'fork through koffi is Linux only');
    native = loadNative();
    dir = mkdtempSync(join(tmpdir(), 'tsrunc-fork-'));
    script = join(dir, 'fork.js');
    writeFileSync(script, SCRIPT);
    native.setChildSubreaper(true);
  });
  after(() => {
    native?.setChildSubreaper(false);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs the script (with the forking spare's node options unless told); resolves with both lines
   * once stdout closes (the copy holds it too) and the original's exit code.
   */
  async function run(mode: string, nodeFlags: readonly string[] = FORKING_SPARE_NODE_OPTIONS): Promise<{ lines: Line[]; code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [...nodeFlags, script, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.on('end', resolve)));
    await new Promise<void>((resolve) => (child.stderr.readableEnded ? resolve() : child.stderr.on('end', resolve)));
    return { lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line), code, stderr };
  }

  /** The exit of a copy, re-parented to us (subreaper). */
  function exitOf(pid: number): Promise<ExitInfo> {
    return waitFor(() => native.waitPid(pid) ?? undefined, { what: `copy ${pid} to exit`, timeoutMs: 10_000 });
  }

  it('the copy has its own pid and session, is not the original’s child, and runs timers, the thread pool, child processes and sockets', async () => {
    const { lines, code } = await run('work');
    assert.equal(code, 0);
    const original = lines.find((l) => l.role === 'original');
    const copy = lines.find((l) => l.role === 'copy');
    assert.ok(original?.pid && copy?.pid, JSON.stringify(lines));
    assert.equal(original.children, '', 'the middle process was reaped; the copy is not a child');
    assert.equal(copy.pid, copy.self, 'process.pid is the copy’s');
    assert.notEqual(copy.pid, original.pid);
    assert.equal(copy.original, original.pid);
    assert.notEqual(copy.ppid, original.pid);
    assert.equal(copy.session, copy.pid, 'it leads its own session');
    assert.equal(copy.childCode, 7, 'a child process’s exit is seen');
    assert.equal(copy.echo, 'ping', 'a unix socket round trip');
    assert.ok(copy.comm, 'an fs read through the thread pool');
    const exit = await exitOf(copy.pid);
    assert.equal(exit.status, 5, 'process.exit(5) ends the copy with 5');
  });

  it('a copy whose event loop empties exits 0; one with an uncaught exception prints it and exits 1: neither hangs in Node’s teardown', async () => {
    const natural = await run('natural');
    const quiet = natural.lines.find((l) => l.role === 'copy');
    assert.ok(quiet?.pid);
    assert.equal((await exitOf(quiet.pid)).status, 0);
    const thrown = await run('throw');
    const loud = thrown.lines.find((l) => l.role === 'copy');
    assert.ok(loud?.pid);
    assert.equal((await exitOf(loud.pid)).status, 1);
    assert.match(thrown.stderr, /Error: thrown in the copy/);
  });

  it('a copy whose exit listeners were added after the fork, one of them throwing, runs them and exits (no hang in Node’s teardown)', async () => {
    const { lines, stderr } = await run('throwing-exit-listener');
    const copy = lines.find((l) => l.role === 'copy');
    assert.ok(copy?.pid);
    await exitOf(copy.pid);
    assert.match(stderr, /an exit listener ran/);
  });

  it('refuses to fork a process with V8 worker threads (no --single-threaded)', async () => {
    const { lines, code } = await run('work', []);
    assert.equal(code, 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0]?.error ?? '', /--single-threaded/);
  });

  it('refuses to fork a process with more than one platform worker (no --v8-pool-size=1)', async () => {
    const { lines, code } = await run('work', ['--single-threaded', '--expose-gc']);
    assert.equal(code, 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0]?.error ?? '', /--v8-pool-size=1/);
  });
});
