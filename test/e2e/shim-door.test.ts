/**
 * The spare's door (shim/manager/door.ts) between the shell entry point and a real spare process,
 * without containerd: this test process plays containerd (the door is keyed by the shim's parent).
 * `start` and `delete` go through the door with `node` missing from the shell's PATH — so an
 * answer proves the spare did the work and no Node process was started — and everything the spare
 * cannot serve falls back to the Node entry point: a dead spare's door, stdio that /proc cannot
 * reopen (sockets), code rebuilt since the spare started.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, rmdirSync, symlinkSync, utimesSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { task } from '../../proto';
import { doorPrefix } from '../../shim/manager/door';
import { DAEMON_NODE_OPTIONS, FORKING_SPARE_NODE_OPTIONS } from '../../shim/manager/start';
import { BIN, cleanEnv } from '../helpers/containerd';
import { alive, envOf, gone, processTable, running } from '../helpers/proc';
import { type FakeBundle, SHIM, actionArgs, fakeBundle, shimAction } from '../helpers/shim-process';
import { uniqueId } from '../helpers/runtimes';
import { requireSystem, skipBecause } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const LAUNCHER = join(BIN, 'lib', 'containerd-shim-tsrunc-v2');
const SOCKET_DIR = '/run/containerd/s';

describe('shim: the spare’s door (shell entry point ↔ spare, no containerd)', function () {
  this.timeout(60_000);
  let dir: string;
  let ttrpc: net.Server;
  let ttrpcPath: string;
  const connections = new Set<net.Socket>();
  /** PATH with what the shell's fast path uses, and no node. */
  let noNode: string;
  const spares: ChildProcess[] = [];
  /** Daemons and spares the shell started (not our children): killed by pid after each test. */
  const daemons: number[] = [];
  const bundles: FakeBundle[] = [];
  /** Process groups of helpers (flock(1) and its command): killed after each test. */
  const groups: number[] = [];

  before(async function () {
    requireSystem(this, ['mkfifo', 'setsid', 'sleep', 'flock']);
    dir = mkdtempSync('/tmp/tsdoor-');
    noNode = join(dir, 'tools');
    mkdirSync(noNode);
    for (const tool of ['mkfifo', 'sleep', 'setsid', 'rm', 'readlink']) symlinkSync(`/usr/bin/${tool}`, join(noNode, tool));
    ttrpcPath = join(dir, 'c.sock.ttrpc');
    ttrpc = net.createServer((c) => {
      connections.add(c.on('error', () => undefined).on('close', () => connections.delete(c)));
    });
    await new Promise<void>((resolve) => ttrpc.listen(ttrpcPath, resolve));
  });
  /** Every process of this suite — spares, daemons, shells — carries its TTRPC_ADDRESS. */
  const killOurs = (): void => {
    for (const [pid] of processTable()) if (pid !== process.pid && envOf(pid, 'TTRPC_ADDRESS') === ttrpcPath) process.kill(pid, 'SIGKILL');
  };
  afterEach(() => {
    for (const s of spares.splice(0)) if (s.pid !== undefined && alive(s.pid)) s.kill('SIGKILL');
    for (const pid of daemons.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const group of groups.splice(0)) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    killOurs();
    // a spare the shell started that a failed test did not get to
    for (const name of readdirSync(SOCKET_DIR)) {
      const spare = new RegExp(`^tsrunc-door-${process.pid}-f?(\\d+)$`).exec(name)?.[1];
      if (spare && alive(Number(spare))) process.kill(Number(spare), 'SIGKILL');
    }
    for (const b of bundles.splice(0)) {
      rmSync(b.socket, { force: true });
      b.remove();
    }
    for (const name of readdirSync(SOCKET_DIR)) if (name.startsWith(`tsrunc-door-${process.pid}`)) rmSync(join(SOCKET_DIR, name), { force: true });
  });
  after(async () => {
    if (ttrpcPath) killOurs();
    for (const c of connections) c.destroy();
    await new Promise((resolve) => ttrpc?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => cleanEnv({ TTRPC_ADDRESS: ttrpcPath, ...extra });

  /** A spare for this process (as containerd's start would leave one); resolves with its door. */
  async function startSpare(options: { fork?: boolean } = {}): Promise<{ child: ChildProcess; door: string }> {
    // the forking spare's options include --single-threaded, without which it cannot fork
    const flags = options.fork ? FORKING_SPARE_NODE_OPTIONS : DAEMON_NODE_OPTIONS;
    const child = spawn(process.execPath, [...flags, LAUNCHER, '-control', doorPrefix(process.pid), 'spare', ' '.repeat(200)], {
      env: env(options.fork ? { TSRUNC_SPARE_FORK: '1' } : {}),
      stdio: 'ignore',
    });
    spares.push(child);
    const name = `tsrunc-door-${process.pid}-${options.fork ? 'f' : ''}${child.pid}`;
    const door = await waitFor(() => readdirSync(SOCKET_DIR).find((n) => n === name), { what: 'the spare’s door' });
    return { child, door: join(SOCKET_DIR, door) };
  }

  /**
   * The pid of the spare the shell started (its door appears): a running one (not a zombie), and
   * not `notPid`, one on its way out — a retiring spare's door lingers for a moment, and a spare
   * taken for the new one would leave the new one to outlive the test and hold the door of the next.
   */
  async function startedSpare(notPid?: number): Promise<number> {
    const pid = await waitFor(
      () =>
        readdirSync(SOCKET_DIR)
          .map((n) => new RegExp(`^tsrunc-door-${process.pid}-f?(\\d+)$`).exec(n)?.[1])
          .map(Number)
          .find((p) => p > 0 && p !== notPid && running(p)),
      { what: 'a spare’s door' },
    );
    daemons.push(pid);
    return pid;
  }

  /** The shell entry point as containerd runs it: stdout and stderr one pipe-like file (not a socket). */
  async function knock(b: FakeBundle, action: 'start' | 'delete', path: string): Promise<{ code: number; out: Buffer; pid: number }> {
    const outPath = join(dir, `${uniqueId()}.out`);
    const out = openSync(outPath, 'w');
    const child = spawn(SHIM, actionArgs(b, action), { cwd: b.bundle, env: env({ PATH: path }), stdio: ['ignore', out, out] });
    closeSync(out);
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    return { code, out: readFileSync(outPath), pid: child.pid ?? -1 };
  }

  const bundle = (): FakeBundle => {
    const b = fakeBundle(uniqueId(), 'nsdoor');
    bundles.push(b);
    return b;
  };

  it('delete is answered by the spare (no node on the shell’s PATH), and the spare stays', async () => {
    const { child } = await startSpare();
    // many: the spare answers within microseconds of the knock, while the shell is still writing it
    for (let i = 0; i < 20; i++) {
      const r = await knock(bundle(), 'delete', noNode);
      assert.equal(r.code, 0, r.out.toString());
      const response = task.DeleteResponse.decode(r.out);
      assert.equal(response.exitStatus, 137);
      assert.equal(response.pid, 4294967295);
    }
    assert.ok(alive(child.pid ?? -1), 'a delete does not use up the spare');
  });

  it('start is answered by the spare, which becomes the task’s daemon and closes its door', async () => {
    const { child, door } = await startSpare();
    const b = bundle();
    const r = await knock(b, 'start', noNode);
    assert.equal(r.code, 0, r.out.toString());
    assert.equal(r.out.toString(), `unix://${b.socket}`);
    assert.equal(readFileSync(join(b.bundle, 'shim.pid'), 'utf8'), String(child.pid));
    assert.equal(readFileSync(join(b.bundle, 'address'), 'utf8'), `unix://${b.socket}`);
    await waitFor(() => !readdirSync(SOCKET_DIR).includes(door.slice(SOCKET_DIR.length + 1)), { what: 'the door to close' });
    await new Promise<void>((resolve, reject) => net.connect(b.socket).once('connect', function (this: net.Socket) {
      this.destroy();
      resolve();
    }).once('error', reject));
  });

  /** A `node` on PATH that logs each run's arguments (then runs the real one): which Node processes ran. */
  function loggingNode(options: { failRequest?: boolean } = {}): { path: string; runs: () => string[] } {
    const tools = join(dir, uniqueId());
    const log = join(tools, 'runs.log');
    mkdirSync(tools);
    // failRequest: a spare started for one request dies at once (as under the OOM killer)
    const fail = options.failRequest ? `case "$*" in *' -request '*) exit 1 ;; esac\n` : '';
    writeFileSync(join(tools, 'node'), `#!/bin/sh\nprintf '%s\\n' "$*" >>'${log}'\n${fail}exec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    return {
      path: `${tools}:${noNode}`,
      runs: () => {
        try {
          return readFileSync(log, 'utf8').trim().split('\n');
        } catch {
          return [];
        }
      },
    };
  }

  /** The daemon `start` recorded serves `b`: its title names the task, its socket answers. */
  async function servedBy(b: FakeBundle): Promise<number> {
    const daemon = Number(readFileSync(join(b.bundle, 'shim.pid'), 'utf8'));
    daemons.push(daemon);
    const title = readFileSync(`/proc/${daemon}/cmdline`, 'latin1').replace(/\0/g, ' ');
    assert.ok(title.includes(` -id ${b.id} `) && title.includes(' -socket '), title);
    await new Promise<void>((resolve, reject) => net.connect(b.socket).once('connect', function (this: net.Socket) {
      this.destroy();
      resolve();
    }).once('error', reject));
    return daemon;
  }

  /** `start` through the shell with PATH `path`: it answers the task's address; the pid of the daemon that serves it. */
  async function startThroughDoor(b: FakeBundle, path: string): Promise<number> {
    const r = await knock(b, 'start', path);
    assert.equal(r.code, 0, r.out.toString());
    assert.equal(r.out.toString(), `unix://${b.socket}`);
    return servedBy(b);
  }

  /** `count` starts at once through the shell (PATH `path`): each answered, each its own daemon. */
  async function startBurst(count: number, path: string): Promise<{ results: { code: number; out: Buffer; pid: number }[]; daemons: number[] }> {
    const burst = Array.from({ length: count }, () => bundle());
    const results = await Promise.all(burst.map((b) => knock(b, 'start', path)));
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `${i}: ${r.out.toString()}`);
    const daemons = await Promise.all(burst.map((b) => servedBy(b)));
    assert.equal(new Set(daemons).size, burst.length, 'one daemon per task');
    return { results, daemons };
  }

  it('a start that finds no spare (the last was adopted a moment ago) is served by a spare started for it: one Node start, not two', async () => {
    const { child } = await startSpare();
    assert.equal((await knock(bundle(), 'start', noNode)).code, 0);
    // (that shell could not start the next spare: no node on its PATH; its spawn lock goes, as a
    // stale one would)
    rmSync(`${doorPrefix(process.pid)}.lock`);
    // the door closed with the adoption; the shell of the next start starts a spare for its own
    // request, which becomes its daemon and (no spare being up) has the shell start the next one
    const node = loggingNode();
    const daemon = await startThroughDoor(bundle(), node.path);
    assert.notEqual(daemon, child.pid);
    const runs = node.runs();
    assert.match(runs[0] ?? '', / -request \d+:\d+ spare\b/, runs.join('\n'));
    assert.ok(runs.every((run) => !run.endsWith(' start')), `no Node start action: ${runs.join('\n')}`);
    const next = await startedSpare(child.pid);
    assert.ok(next !== daemon && next !== child.pid);
  });

  it('a spare that forks (TSRUNC_SPARE_FORK=1) serves each start with a daemon forked from it, each delete with a fork too, and keeps its door: no Node started', async () => {
    const { child, door } = await startSpare({ fork: true });
    const node = loggingNode();
    const first = await startThroughDoor(bundle(), node.path);
    assert.notEqual(first, child.pid, 'the spare stays a spare');
    const burst = Array.from({ length: 4 }, () => bundle());
    const results = await Promise.all(burst.map((b) => knock(b, 'start', node.path)));
    for (const [i, res] of results.entries()) assert.equal(res.code, 0, `${i}: ${res.out.toString()}`);
    const daemons = [first, ...(await Promise.all(burst.map((b) => servedBy(b))))];
    assert.equal(new Set(daemons).size, daemons.length, 'one daemon per task');
    assert.ok(!daemons.includes(child.pid ?? -1));
    const d = await knock(bundle(), 'delete', node.path);
    assert.equal(d.code, 0, d.out.toString());
    assert.equal(task.DeleteResponse.decode(d.out).exitStatus, 137);
    assert.deepEqual(node.runs(), [], 'no Node process started');
    assert.ok(statSync(door).isFIFO() && alive(child.pid ?? -1), 'the spare keeps its door');
  });

  it('a burst at both kinds of spare: the handed-back kind takes one, forks serve the rest — those it answered `busy` too: no Node started', async () => {
    const warm = await startSpare();
    const forking = await startSpare({ fork: true });
    const node = loggingNode();
    const { daemons } = await startBurst(6, node.path);
    assert.ok(daemons.includes(warm.child.pid ?? -1), 'the handed-back kind took one');
    assert.ok(!daemons.includes(forking.child.pid ?? -1), 'the forking spare took none itself');
    assert.deepEqual(node.runs(), [], 'no Node process started');
  });

  it('a burst of starts: each its own daemon, one Node start each, never the Node start action, exactly one next spare', async () => {
    await startSpare();
    const node = loggingNode();
    const { results } = await startBurst(6, node.path);
    const runs = node.runs();
    assert.ok(runs.every((run) => !run.endsWith(' start')), `no Node start action: ${runs.join('\n')}`);
    // whoever took the spawn lock first (the adopted spare or a per-request one) had its shell start it
    await startedSpare();
    assert.equal(node.runs().filter((run) => !run.includes(' -request ')).length, 1, `one next spare: ${node.runs().join('\n')}`);
    const replies = new Set(results.map((r) => `tsrunc-reply-${r.pid}`));
    assert.deepEqual(readdirSync(SOCKET_DIR).filter((n) => replies.has(n)), [], 'no reply FIFO left');
  });

  it('a spare started for a request that dies before it answers: the shell sees it at once and runs the Node entry point', async function () {
    this.timeout(8000); // the shell waited 10 s here before its spare held the reply open
    const node = loggingNode({ failRequest: true });
    const b = bundle();
    const r = await knock(b, 'start', `${node.path}:/usr/bin:/bin`);
    assert.equal(r.code, 0, r.out.toString());
    assert.equal(r.out.toString(), `unix://${b.socket}`);
    await servedBy(b);
    const runs = node.runs();
    assert.match(runs[0] ?? '', / -request \d+:\d+ spare\b/, runs.join('\n'));
    assert.ok(runs[1]?.endsWith(' start'), `then the Node start action: ${runs.join('\n')}`);
    await startedSpare(); // which starts the next shared spare
  });

  it('a start a busy spare answers `busy` (code rebuilt since it started) is served by a spare started for it', async () => {
    const { child } = await startSpare();
    const node = loggingNode();
    const { mtime, atime } = statSync(LAUNCHER);
    try {
      utimesSync(LAUNCHER, new Date(), new Date(Date.now() + 1000));
      const b = bundle();
      const r = await knock(b, 'start', node.path);
      assert.equal(r.code, 0, r.out.toString());
      await servedBy(b);
      assert.match(node.runs()[0] ?? '', / -request \d+:\d+ spare\b/, node.runs().join('\n'));
      await waitFor(() => gone(child.pid ?? -1), { what: 'the stale spare to exit' });
      await startedSpare(child.pid); // with the new code
    } finally {
      utimesSync(LAUNCHER, atime, mtime);
    }
  });

  it('falls back to the Node entry point: a dead spare’s door, socket stdio, code rebuilt since the spare started', async () => {
    const withNode = `${noNode}:/usr/bin:/bin`;
    // a spare killed -9 leaves its door behind; the shell checks /proc and goes on with Node
    const dead = await startSpare();
    dead.child.kill('SIGKILL');
    await waitFor(() => gone(dead.child.pid ?? -1), { what: 'the spare to die' });
    const r1 = await knock(bundle(), 'delete', withNode);
    assert.equal(r1.code, 0, r1.out.toString());
    assert.equal(task.DeleteResponse.decode(r1.out).exitStatus, 137);

    // a new spare removes the dead door; Node's child_process stdio are sockets: `fallback`
    const { child } = await startSpare();
    assert.ok(!readdirSync(SOCKET_DIR).includes(dead.door.slice(SOCKET_DIR.length + 1)), 'the dead spare’s door is gone');
    const r2 = await shimAction(bundle(), 'delete', { env: { TTRPC_ADDRESS: ttrpcPath, PATH: withNode } });
    assert.equal(r2.code, 0, r2.stderr.toString());
    assert.equal(task.DeleteResponse.decode(r2.stdout).exitStatus, 137);
    assert.ok(alive(child.pid ?? -1));

    // the launcher changed after the spare started: it answers `fallback` and retires
    const { mtime, atime } = statSync(LAUNCHER);
    try {
      utimesSync(LAUNCHER, new Date(), new Date(Date.now() + 1000));
      const r3 = await knock(bundle(), 'delete', withNode);
      assert.equal(r3.code, 0, r3.out.toString());
      assert.equal(task.DeleteResponse.decode(r3.out).exitStatus, 137);
      await waitFor(() => gone(child.pid ?? -1), { what: 'the stale spare to exit' });
    } finally {
      utimesSync(LAUNCHER, atime, mtime);
    }
  });

  it('a dead spare’s door whose pid now names another shim (a reused pid) is not knocked at: Node answers at once', async () => {
    const withNode = `${noNode}:/usr/bin:/bin`;
    // a process with a shim's comm, `containerd-shim`, as a task daemon or Go's shim has: not a spare
    const other = spawn(process.execPath, ['-e', "process.title = 'containerd-shim-runc-v2 -namespace default -id reused -address /x'; setInterval(() => undefined, 1000)"], { env: env(), stdio: 'ignore' });
    spares.push(other);
    await waitFor(() => readFileSync(`/proc/${other.pid}/comm`, 'utf8').trim() === 'containerd-shim' || undefined, { what: 'the other shim’s title' });
    const door = `${doorPrefix(process.pid)}-${other.pid}`;
    execFileSync('mkfifo', ['-m', '600', door]);
    // read here as its spare would read it: a knock at this door lands in it
    const fd = openSync(door, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const r = await knock(bundle(), 'delete', withNode);
      assert.equal(r.code, 0, r.out.toString());
      assert.equal(task.DeleteResponse.decode(r.out).exitStatus, 137);
      const knocked = Buffer.alloc(64);
      assert.equal(readSync(fd, knocked), 0, `the shell knocked: ${knocked.toString()}`);
    } finally {
      closeSync(fd);
    }
  });

  it('a spare killed while it opened its door leaves its lock file, which holds up no spare after it; a live holder keeps one out', async () => {
    const lock = `${doorPrefix(process.pid)}.opening`;
    // as a spare killed -9 right after its door appeared, before it let go of the lock, leaves it
    writeFileSync(lock, '');
    const { door } = await startSpare();
    assert.ok(statSync(door).isFIFO());
    spares.splice(0).forEach((s) => s.kill('SIGKILL'));
    // the lock held (flock(1), as a spare would hold it) and no door open: a spare gives up
    const holder = spawn('flock', ['-o', lock, 'sh', '-c', 'echo held; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    assert.ok(holder.pid !== undefined);
    groups.push(holder.pid); // killed by afterEach too, should this test time out
    try {
      await new Promise((resolve) => holder.stdout?.once('data', resolve));
      const spare = spawn(process.execPath, [...DAEMON_NODE_OPTIONS, LAUNCHER, '-control', doorPrefix(process.pid), 'spare'], { env: env(), stdio: 'ignore' });
      spares.push(spare);
      const code = await new Promise((resolve) => spare.once('exit', resolve));
      assert.equal(code, 0);
      assert.ok(!readdirSync(SOCKET_DIR).some((n) => n.endsWith(`-${spare.pid}`)), 'it opened no door');
    } finally {
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      process.kill(-holder.pid, 'SIGKILL');
      await exited;
    }
  });

  it('a fork whose copy cannot be made (pids limit): the forking spare forks again, then answers `busy` — never leaves the knock to the watchdog', async function () {
    // the spare in a pids cgroup with room for one more task: its middle process, whose own fork
    // (the copy) fails — as when the middle dies on a heap page the fork left out (native/fork.ts)
    const cgroup = pidsCgroup(this, `tsrunc-door-${process.pid}`);
    const { child, door } = await startSpare({ fork: true });
    const spare = child.pid ?? -1;
    // (its threads are up once its door is: the rehearsal ran before)
    writeFileSync(join(cgroup, 'pids.max'), String(readdirSync(`/proc/${spare}/task`).length + 1));
    writeFileSync(join(cgroup, 'cgroup.procs'), String(spare));
    // a knock as the shell's, without its watchdog: an unanswered one is never answered
    const reply = join(SOCKET_DIR, `tsrunc-reply-${process.pid}`);
    execFileSync('mkfifo', ['-m', '600', reply]);
    const fd = openSync(reply, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      writeFileSync(door, `${process.pid} 9\n`, { flag: 'r+' });
      let answer = '';
      const chunk = Buffer.alloc(64);
      await waitFor(
        () => {
          let n = 0;
          try {
            n = readSync(fd, chunk);
          } catch {
            // EAGAIN: the spare has it open and wrote nothing yet
          }
          answer += chunk.subarray(0, n).toString();
          return answer.endsWith('\n');
        },
        { timeoutMs: 10_000, what: 'the spare’s answer' },
      );
      assert.equal(answer, 'busy\n');
      assert.ok(alive(spare) && statSync(door).isFIFO(), 'the spare stays, with its door');
    } finally {
      closeSync(fd);
      rmSync(reply, { force: true });
      child.kill('SIGKILL');
      await waitFor(() => gone(spare), { what: 'the spare to exit' });
      await waitFor(() => {
        try {
          rmdirSync(cgroup);
          return true;
        } catch {
          return false;
        }
      }, { what: 'the cgroup to empty' });
    }
  });

  it('a plain file where a door would be is not taken for a live spare', async () => {
    const stray = `${doorPrefix(process.pid)}-1`;
    writeFileSync(stray, '1 1\n');
    const { door } = await startSpare();
    assert.ok(door.endsWith(`-${spares[0]?.pid}`));
    assert.throws(() => statSync(stray), /ENOENT/, 'the stray file was removed');
  });
});


/** A new pids cgroup named `name` (v1's pids hierarchy, or cgroup v2 with pids enabled at its root), or the test skips. */
function pidsCgroup(ctx: Mocha.Context, name: string): string {
  if (process.getuid?.() !== 0) skipBecause(ctx, 'needs root to make a cgroup');
  const v1 = '/sys/fs/cgroup/pids';
  let parent: string | undefined;
  if (existsSync(join(v1, 'cgroup.procs'))) parent = v1;
  else if (readFileIfAny('/sys/fs/cgroup/cgroup.subtree_control').split(' ').map((c) => c.trim()).includes('pids')) parent = '/sys/fs/cgroup';
  if (parent === undefined) skipBecause(ctx, 'no pids cgroup controller to limit the spare with');
  const path = join(parent, name);
  mkdirSync(path);
  return path;
}

function readFileIfAny(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
