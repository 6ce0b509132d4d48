/**
 * Our shim's `start` and `delete` actions and its daemon, run as containerd runs them (argv, cwd,
 * environment, a log FIFO held open by "containerd"), checked against PROTOCOL §2–§5.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, readFileSync, readSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { task, timestampToNanos } from '../../proto';
import { DELETE_ANSWER_FILE, printfEscaped } from '../../shim/manager/delete-answer';
import { isMountPoint } from '../../shim/container/mounts';
import { connectTask } from '../helpers/shim-client';
import { type FakeBundle, fakeBundle, shimAction, shimPid } from '../helpers/shim-process';
import { startHandShim } from '../helpers/hand-shim';
import { uniqueId } from '../helpers/runtimes';
import { alive } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]. */
function stat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Local TCP ports in LISTEN state. */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') ports.add(Number.parseInt(f[1]?.split(':')[1] ?? '0', 16));
    }
  }
  return ports;
}

/** Reads what the daemon wrote to the log FIFO so far. */
function drainLog(b: FakeBundle): string {
  const buf = Buffer.alloc(1 << 16);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(b.logFd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: nothing more now
    }
    if (n <= 0) break;
    text += buf.toString('utf8', 0, n);
  }
  return text;
}

async function stopDaemon(b: FakeBundle): Promise<void> {
  const pid = shimPid(b);
  if (!alive(pid)) return;
  const { task: t, close } = await connectTask(b.socket);
  await t.shutdown({ id: b.id, now: false });
  await close();
  await waitFor(() => !alive(pid), { what: 'the shim daemon to exit after Shutdown' });
}

describe('shim start/delete actions and the daemon (ours)', function () {
  this.timeout(30_000);
  const bundles: FakeBundle[] = [];
  const bundle = (annotations: Record<string, string> = {}) => {
    const b = fakeBundle(uniqueId('a'), `ns${uniqueId()}`, annotations);
    bundles.push(b);
    return b;
  };

  before(function () {
    requireSystem(this, ['runc']);
  });
  afterEach(() => {
    for (const b of bundles.splice(0)) {
      try {
        const pid = shimPid(b);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // no daemon started
      }
      if (existsSync(b.socket)) unlinkSync(b.socket);
      b.remove();
    }
  });

  it('start prints exactly the address Go computes, writes address and shim.pid, and leaves a 0600 socket listening', async () => {
    const b = bundle();
    const r = await shimAction(b, 'start');
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stderr.length, 0, 'nothing on stderr');
    assert.equal(r.stdout.toString(), `unix://${b.socket}`, 'only the address on stdout (no newline, as Go)');
    assert.equal(readFileSync(join(b.bundle, 'address'), 'utf8'), `unix://${b.socket}`);
    const st = statSync(b.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600, 'socket 0600');
    assert.equal(statSync(join(b.socket, '..')).mode & 0o077, 0, 'socket directory no wider than Go (0600)');
    const pid = shimPid(b);
    assert.ok(alive(pid));
    const [, , pgrp, session] = stat(pid);
    assert.equal(Number(session), pid, 'the daemon runs in its own session');
    assert.equal(Number(pgrp), pid);
    assert.match(readlinkSync(`/proc/${pid}/fd/3`), /^socket:/, 'the listener is fd 3');
    assert.equal(readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
    assert.equal(readlinkSync(`/proc/${pid}/fd/1`), '/dev/null');
    // its argv as spawned, or (once it serves) its title, the same words joined by spaces
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    assert.ok(argv.includes(` -namespace ${b.namespace} -id ${b.id} -address ${b.address} `), argv);
    const { task: t, close } = await connectTask(b.socket);
    const connected = await t.connect({ id: b.id });
    assert.equal(connected.shimPid, pid);
    assert.equal(connected.taskPid, 0);
    assert.equal(readlinkSync(`/proc/${pid}/cwd`), '/', 'cwd moved to / once serving');
    await close();
    await stopDaemon(b);
    assert.equal(existsSync(b.socket), false, 'the daemon removes its socket at shutdown');
  });

  it('a daemon shutting down leaves a socket another start bound at its path meanwhile', async () => {
    const b = bundle();
    assert.equal((await shimAction(b, 'start')).code, 0);
    const pid = shimPid(b);
    // a call answered: the daemon serves, and its shutdown (SIGTERM) runs its steps
    const { task: t, close } = await connectTask(b.socket);
    assert.equal((await t.connect({ id: b.id })).shimPid, pid);
    await close();
    // what a new `start` of the group does once the old daemon stopped listening: a socket of its own at the path
    unlinkSync(b.socket);
    const successor = net.createServer().listen(b.socket);
    await once(successor, 'listening');
    try {
      const mine = statSync(b.socket).ino;
      process.kill(pid, 'SIGTERM'); // its shutdown runs the same steps as after Shutdown
      await waitFor(() => !alive(pid), { what: 'the old daemon to exit' });
      assert.equal(existsSync(b.socket) && statSync(b.socket).ino, mine, 'the successor’s socket is still there');
    } finally {
      successor.close();
    }
  });

  it('start finds a live shim of the same group and never steals its socket', async () => {
    const first = bundle({ 'io.containerd.runc.v2.group': 'g1' });
    assert.equal((await shimAction(first, 'start')).code, 0);
    const daemon = shimPid(first);
    const second = fakeBundle(uniqueId('b'), first.namespace, { 'io.containerd.runc.v2.group': 'g1' });
    bundles.push({ ...second, address: first.address });
    const secondAtSameAddress = { ...second, address: first.address, socket: first.socket };
    const r = await shimAction(secondAtSameAddress, 'start');
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), `unix://${first.socket}`);
    assert.equal(existsSync(join(second.bundle, 'shim.pid')), false, 'no second daemon');
    assert.equal(readFileSync(join(second.bundle, 'address'), 'utf8'), `unix://${first.socket}`);
    const { task: t, close } = await connectTask(first.socket);
    assert.equal((await t.connect({ id: first.id })).shimPid, daemon, 'the first daemon still serves');
    await close();
  });

  it('start replaces the stale socket of a dead shim', async () => {
    const b = bundle();
    // a socket file nobody listens on: what a SIGKILLed shim leaves
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(b.socket)}, () => process.stdout.write('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    assert.ok(existsSync(b.socket));
    const r = await shimAction(b, 'start');
    assert.equal(r.code, 0, r.stderr.toString());
    const { task: t, close } = await connectTask(b.socket);
    assert.equal((await t.connect({ id: b.id })).shimPid, shimPid(b));
    await close();
  });

  it('start refuses an invalid id with one clear line and creates nothing', async () => {
    const b = bundle();
    const bad = { ...b, id: '../etc' };
    const r = await shimAction(bad, 'start');
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /^io\.containerd\.tsrunc\.v2: invalid id "\.\.\/etc": must match/);
    assert.equal(existsSync(join(b.bundle, 'address')), false);
  });

  it('delete prints a DeleteResponse (pid from init.pid, 137, now), is idempotent, and finishes well inside 5 s', async () => {
    const b = bundle();
    writeFileSync(join(b.bundle, 'init.pid'), '8398');
    const before = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < 2; i++) {
      const r = await shimAction(b, 'delete');
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stderr.toString(), '', 'no warnings for a container runc never knew');
      assert.ok(r.ms < 5000, `delete took ${r.ms} ms`);
      const response = task.DeleteResponse.decode(r.stdout);
      assert.equal(response.pid, 8398);
      assert.equal(response.exitStatus, 137);
      const at = timestampToNanos(response.exitedAt);
      assert.ok(at >= before && at <= BigInt(Date.now()) * 1_000_000n + 1_000_000n);
    }
    unlinkSync(join(b.bundle, 'init.pid'));
    const r = await shimAction(b, 'delete');
    assert.equal(task.DeleteResponse.decode(r.stdout).pid, 4294967295, 'a missing pid file is uint32(-1), as Go');
  });

  it('delete removes the socket of a dead shim and keeps a live one', async () => {
    const b = bundle();
    assert.equal((await shimAction(b, 'start')).code, 0);
    assert.equal((await shimAction(b, 'delete')).code, 0);
    assert.ok(existsSync(b.socket), 'a live shim (it may serve a group) keeps its socket');
    process.kill(shimPid(b), 'SIGKILL');
    await waitFor(() => !alive(shimPid(b)), { what: 'the daemon to die' });
    assert.ok(existsSync(b.socket), 'a SIGKILLed shim leaves its socket');
    assert.equal((await shimAction(b, 'delete')).code, 0);
    assert.equal(existsSync(b.socket), false, 'delete removed the dead socket');
  });

  it('the daemon handles SIGUSR1 (a report in the log, no inspector) and ignores SIGHUP', async () => {
    const b = bundle();
    assert.equal((await shimAction(b, 'start')).code, 0);
    const pid = shimPid(b);
    const ready = await connectTask(b.socket); // serving: its handlers are installed
    await ready.task.connect({ id: b.id });
    await ready.close();
    const portsBefore = listeningPorts();
    drainLog(b);
    process.kill(pid, 'SIGUSR1');
    process.kill(pid, 'SIGHUP');
    let log = '';
    const line = await waitFor(() => /msg="diagnostic report \(SIGUSR1\)".* report=(\S+)/.exec((log += drainLog(b))), { what: 'the SIGUSR1 report in the log' });
    rmSync(line[1] ?? '', { force: true }); // the report file it names, in the tmpdir: not left behind
    assert.ok(alive(pid));
    assert.equal(listeningPorts().has(9229), portsBefore.has(9229), 'no inspector opened on 9229');
    assert.deepEqual([...listeningPorts()].filter((p) => !portsBefore.has(p)), [], 'no new listening socket');
    const { task: t, close } = await connectTask(b.socket);
    assert.equal((await t.connect({ id: b.id })).shimPid, pid, 'still serving');
    await close();
  });

  it('the daemon logs to the log FIFO with id and namespace fields, debug lines with -debug', async () => {
    const b = bundle();
    assert.equal((await shimAction(b, 'start', { debug: true })).code, 0);
    let log = '';
    await waitFor(() => (log += drainLog(b)).includes('msg="serving"'), { what: 'the debug line' });
    assert.match(log, new RegExp(`level=debug msg="serving".* namespace=${b.namespace} id=${b.id}`));
  });

  it('refuses a connection from another uid before reading a byte (socket made reachable for the test)', async () => {
    const b = bundle();
    assert.equal((await shimAction(b, 'start')).code, 0);
    // /run/containerd/s is root-only; a hard link in an open directory and a 0666 socket let
    // nobody reach the listener, so what refuses it is the peer-credential handshake itself.
    const link = join(b.dir, 'open.sock');
    linkSync(b.socket, link);
    chmodSync(b.dir, 0o755);
    chmodSync(b.socket, 0o666);
    try {
      const out = await new Promise<string>((resolve) => {
        const child = spawn('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', process.execPath, '-e', `
          const s = require('net').connect(${JSON.stringify(link)});
          let got = 0;
          s.on('connect', () => s.write(Buffer.from('0000000000000001010000', 'hex')));
          s.on('data', (d) => { got += d.length; });
          s.on('error', (e) => process.stdout.write('error ' + e.code + ' '));
          s.on('close', () => process.stdout.write('closed after ' + got + ' bytes'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.on('exit', () => resolve(text));
      });
      assert.match(out, /closed after 0 bytes/, 'connection closed, not a single byte answered');
    } finally {
      chmodSync(b.socket, 0o600);
      unlinkSync(link);
    }
    const { task: t, close } = await connectTask(b.socket);
    assert.equal((await t.connect({ id: b.id })).shimPid, shimPid(b), 'root is still served');
    await close();
  });
});

describe('shim delete after a task its daemon deleted (ours, run by hand)', function () {
  this.timeout(60_000);
  before(function () {
    requireSystem(this, ['runc']);
  });

  it('the daemon leaves the answer in the bundle; the script prints it with no Node (none on PATH), as the Node action would', async () => {
    const shim = await startHandShim(['/bin/true']);
    const { task: t, close } = await connectTask(shim.bundle.socket);
    try {
      const { bundle, id } = shim.bundle;
      const answer = join(bundle, DELETE_ANSWER_FILE);
      // the shim mounts a tmpfs on <bundle>/rootfs (the spec's root is elsewhere: runc does not care)
      const { pid } = await t.create({ ...shim.createRequest(id, bundle), rootfs: [{ type: 'tmpfs', source: 'tmpfs', target: '', options: ['size=1m'] }] });
      assert.ok(isMountPoint(join(bundle, 'rootfs')));
      await t.start({ id, execId: '' });
      assert.equal((await t.wait({ id, execId: '' })).exitStatus, 0);
      const before = BigInt(Date.now()) * 1_000_000n;
      await t.delete({ id, execId: '' });
      const after = BigInt(Date.now()) * 1_000_000n;
      assert.equal(existsSync(join(shim.runcRoot, id)), false, "runc's state is gone");
      assert.equal(isMountPoint(join(bundle, 'rootfs')), false, 'the rootfs is unmounted');
      assert.match(readFileSync(answer, 'utf8'), /^(\\[0-7]{3})+\n$/, 'one line of octal escapes');

      const r = await shimAction(shim.bundle, 'delete', { env: { PATH: '/nonexistent' } });
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stderr.length, 0);
      const response = task.DeleteResponse.decode(r.stdout);
      assert.equal(response.pid, pid, "the init's pid");
      assert.equal(response.exitStatus, 137, 'as the Node action (and Go) say after a task');
      const at = timestampToNanos(response.exitedAt);
      assert.ok(at >= before - 1_000_000n && at <= after + 1_000_000n, 'the time of the Delete');

      // a line cut short (a crash while writing) is not read: the full delete runs (Node is needed)
      writeFileSync(answer, readFileSync(answer, 'utf8').slice(0, 12));
      const cut = await shimAction(shim.bundle, 'delete', { env: { PATH: '/nonexistent' } });
      assert.notEqual(cut.code, 0, 'no node on PATH: the full delete could not run');
      const full = await shimAction(shim.bundle, 'delete');
      assert.equal(full.code, 0, full.stderr.toString());
      assert.equal(task.DeleteResponse.decode(full.stdout).pid, pid);
    } finally {
      await close();
      await shim.stop();
    }
  });

  it('Delete unmounts whatever is on the bundle’s rootfs (as Go’s UnmountAll), so the answer holds for a mount the shim did not make', async () => {
    const shim = await startHandShim(['/bin/true']);
    const { task: t, close } = await connectTask(shim.bundle.socket);
    const rootfs = join(shim.bundle.bundle, 'rootfs');
    try {
      const { bundle, id } = shim.bundle;
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', rootfs]);
      await t.create(shim.createRequest(id, bundle)); // no rootfs mounts of its own
      await t.start({ id, execId: '' });
      await t.wait({ id, execId: '' });
      await t.delete({ id, execId: '' });
      assert.equal(isMountPoint(rootfs), false);
      assert.ok(existsSync(join(bundle, DELETE_ANSWER_FILE)));
    } finally {
      if (isMountPoint(rootfs)) execFileSync('umount', [rootfs]);
      await close();
      await shim.stop();
    }
  });

  it('start removes an answer a previous task left in the bundle (the supervisor restarts a task in its bundle)', async () => {
    const b = fakeBundle(uniqueId('r'), `ns${uniqueId()}`);
    try {
      writeFileSync(join(b.bundle, DELETE_ANSWER_FILE), `${printfEscaped(Buffer.from('old'))}\n`);
      const r = await shimAction(b, 'start');
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(existsSync(join(b.bundle, DELETE_ANSWER_FILE)), false, 'a new task that dies before its Delete gets the full delete');
    } finally {
      try {
        process.kill(shimPid(b), 'SIGKILL');
      } catch {
        // no daemon
      }
      if (existsSync(b.socket)) unlinkSync(b.socket);
      b.remove();
    }
  });

  it('a task its daemon did not delete (the daemon was SIGKILLed) leaves no answer: the delete action does the full cleanup', async () => {
    const shim = await startHandShim(['/bin/sleep', '1000']);
    const { task: t, close } = await connectTask(shim.bundle.socket);
    try {
      const { bundle, id } = shim.bundle;
      await t.create(shim.createRequest(id, bundle));
      await t.start({ id, execId: '' });
      // the daemon dies with its task alive: the delete action must do the whole cleanup
      process.kill(shim.pid, 'SIGKILL');
      await waitFor(() => !alive(shim.pid), { what: 'the daemon to die' });
      assert.equal(existsSync(join(bundle, DELETE_ANSWER_FILE)), false);
      assert.ok(existsSync(join(shim.runcRoot, id)), 'runc still holds the container');
      const r = await shimAction(shim.bundle, 'delete');
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(existsSync(join(shim.runcRoot, id)), false, 'the full delete ran runc delete --force');
    } finally {
      await close();
      await shim.stop();
    }
  });
});
