/**
 * Socket security of our shim as containerd launches it (the lesson of CVE-2020-15257), with Go's
 * io.containerd.runc.v2 as the reference where a comparison is the claim:
 *  - filesystem sockets only: the daemon holds no abstract unix socket, and listens on exactly
 *    the socket containerd computed;
 *  - permissions of the socket, its directory and the files the shim writes into the bundle are no
 *    wider than the Go shim's;
 *  - a peer of another uid — or root's uid with another gid — is refused: by the root-only directory
 *    first, and by the peer-credential check when the socket is made reachable;
 *  - SIGUSR1 opens no inspector (no TCP listener at all in the daemon) and writes its report.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd, SHIM_SOCKET_DIR } from '../helpers/containerd';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { exited, listeningTcp, socketInodes, unixSocketsOf } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** Runs a node snippet as another user (setpriv) that connects to `path`, writes a Connect frame and reports. */
function connectAs(user: string[], path: string): Promise<string> {
  const script = `
    const s = require('net').connect(${JSON.stringify(path)});
    let got = 0;
    s.on('connect', () => { process.stdout.write('connected '); s.write(Buffer.from('0000000500000001010012034142', 'hex')); });
    s.on('data', (d) => { got += d.length; });
    s.on('error', (e) => process.stdout.write('error ' + e.code + ' '));
    s.on('close', () => process.stdout.write('closed after ' + got + ' bytes'));
    setTimeout(() => { process.stdout.write('still open after 5 s'); process.exit(0); }, 5000).unref();`;
  return new Promise((resolve) => {
    const child = spawn('setpriv', [...user, '--clear-groups', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('exit', () => resolve(text));
  });
}

describe('reliability: socket security (ours; Go runc.v2 as the reference)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let ours: string;
  let go: string;
  let ourPid: number;
  let scratch: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'setpriv']);
    ct = await Containerd.start();
    scratch = mkdtempSync('/tmp/tsrunc-sec-');
    ours = uniqueId('so');
    go = uniqueId('sg');
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), ours, '/bin/sleep', '1000']);
    await ct.ctrOk(['run', '-d', '--runtime', GO_RUNTIME, '--rootfs', sharedRootfs(), go, '/bin/sleep', '1000']);
    const { task, close } = await connectTask(ct.shimSocket(ours));
    ourPid = (await task.connect({ id: ours })).shimPid;
    await close();
  });
  after(async () => {
    for (const id of [ours, go]) {
      if (!id || !ct) continue;
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
    }
    await ct?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('holds no abstract unix socket and listens only on the filesystem socket containerd computed', () => {
    const sockets = unixSocketsOf(ourPid);
    assert.ok(sockets.length > 0, 'the daemon holds unix sockets');
    assert.deepEqual(sockets.filter((s) => s.path.startsWith('@')), [], 'nothing in the abstract namespace');
    assert.deepEqual(
      sockets.filter((s) => s.listening).map((s) => s.path),
      [ct.shimSocket(ours)],
      'one listener, at /run/containerd/s/<sha256(address/namespace/id)>',
    );
  });

  it('socket, socket directory and bundle files are no wider than the Go shim’s', () => {
    const mode = (p: string): number => statSync(p).mode & 0o7777;
    const ourSocket = mode(ct.shimSocket(ours));
    const goSocket = mode(ct.shimSocket(go));
    assert.equal(ourSocket & ~goSocket, 0, `socket ${ourSocket.toString(8)} vs Go ${goSocket.toString(8)}`);
    assert.equal(ourSocket & 0o077, 0, 'no group or other access to the socket');
    const dir = statSync(SHIM_SOCKET_DIR);
    assert.equal(dir.uid, 0);
    assert.equal(dir.mode & 0o077, 0, `${SHIM_SOCKET_DIR} is root-only (${(dir.mode & 0o777).toString(8)})`);
    const wider: string[] = [];
    for (const file of ['address', 'options.json', 'init.pid', 'log.json']) {
      const mine = join(ct.bundle(ours), file);
      const theirs = join(ct.bundle(go), file);
      if (!existsSync(mine) || !existsSync(theirs)) continue;
      if (mode(mine) & ~mode(theirs)) wider.push(`${file}: ${mode(mine).toString(8)} (Go ${mode(theirs).toString(8)})`);
    }
    assert.deepEqual(wider, [], 'bundle files no wider than Go’s');
  });

  it('refuses a peer of another uid: EACCES at the root-only directory; closed without a byte through a reachable link', async () => {
    const direct = await connectAs(['--reuid', 'nobody', '--regid', 'nogroup'], ct.shimSocket(ours));
    assert.match(direct, /error EACCES/, 'nobody cannot even reach the socket');
    const link = join(scratch, 'reachable.sock');
    linkSync(ct.shimSocket(ours), link);
    chmodSync(scratch, 0o755);
    chmodSync(link, 0o666);
    try {
      const asNobody = await connectAs(['--reuid', 'nobody', '--regid', 'nogroup'], link);
      assert.match(asNobody, /connected .*closed after 0 bytes/, `nobody: ${asNobody}`);
      const otherGid = await connectAs(['--reuid', '0', '--regid', 'nogroup'], link);
      assert.match(otherGid, /connected .*closed after 0 bytes/, `uid 0 with gid nogroup: ${otherGid}`);
    } finally {
      chmodSync(link, 0o600);
      unlinkSync(link);
    }
    const { task, close } = await connectTask(ct.shimSocket(ours));
    assert.equal((await task.connect({ id: ours })).shimPid, ourPid, 'root is still served');
    await close();
    await waitFor(() => readFileSync(ct.log, 'utf8').includes('connection refused'), { what: 'the refusal in the shim log (copied by containerd)' });
  });

  it('SIGUSR1 opens no inspector: no TCP socket at all in the daemon, its report logged and written 0600', async () => {
    const before = readFileSync(ct.log, 'utf8').length;
    process.kill(ourPid, 'SIGUSR1');
    const match = await waitFor(() => /msg="diagnostic report \(SIGUSR1\)".* report=(\S+)/.exec(readFileSync(ct.log, 'utf8').slice(before)), { what: 'the report line in containerd’s log' });
    const report = match[1] ?? '';
    try {
      assert.equal(statSync(report).mode & 0o777, 0o600);
      assert.equal((JSON.parse(readFileSync(report, 'utf8')) as { header?: { processId?: number } }).header?.processId, ourPid);
    } finally {
      if (existsSync(report)) unlinkSync(report);
    }
    assert.ok(!exited(ourPid));
    const mine = socketInodes(ourPid);
    assert.deepEqual(listeningTcp(ourPid).filter((l) => mine.has(l.inode)), [], 'the daemon listens on no TCP port (9229 or any)');
    assert.ok(!listeningTcp(ourPid).some((l) => l.port === 9229), 'nothing on 9229 in its network namespace');
  });
});
