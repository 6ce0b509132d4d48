/**
 * Who may talk to the supervisor: its API socket is 0600 in a 0700 directory, and even when both
 * are opened up, a client of another uid is refused at accept time by its peer credentials
 * (SO_PEERCRED), before grpc-js reads a byte — tested as `nobody`. The events endpoint is 0600 too.
 * SIGUSR1 never opens Node's inspector (a root debugger on 127.0.0.1:9229).
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listeningTcp } from '../helpers/shim-metrics';
import { Supervisor } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('tsrunc API access control', function () {
  this.timeout(60_000);
  let sv: Supervisor;

  before(async function () {
    requireSystem(this, ['setpriv', 'runc']);
    sv = new Supervisor();
    await sv.startDaemon();
  });
  after(async () => {
    await sv?.cleanup();
  });

  it('keeps its sockets 0600 in a 0700 directory', () => {
    const mode = (p: string): number => statSync(p).mode & 0o777;
    assert.equal(mode(join(sv.root, 'run')), 0o700);
    assert.equal(mode(join(sv.root, 'lib')), 0o700);
    assert.equal(mode(sv.apiSocket), 0o600);
    assert.equal(mode(join(sv.root, 'run', 'events.sock')), 0o600);
  });

  it('refuses nobody: the directory is closed to other users', async () => {
    const r = await sv.cli(['ps'], { asNobody: true });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tsrunc: permission denied: ${sv.apiSocket} is reachable by the daemon's user only\n`);
  });

  it('refuses nobody by peer credentials even when the socket is opened up', async () => {
    const root = sv.root;
    chmodSync(root, 0o755);
    chmodSync(join(root, 'run'), 0o755);
    chmodSync(sv.apiSocket, 0o666);
    try {
      const r = await sv.cli(['ps'], { asNobody: true });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /^tsrunc: cannot reach the tsrunc daemon at \S+: .+\n$/);
      await waitFor(() => /API connection refused: peer runs as another user uid=65534/.test(sv.daemonLog()), { what: 'the refusal in the daemon log' });
      const root = await sv.cli(['ps']);
      assert.equal(root.code, 0, 'root still gets in');
    } finally {
      chmodSync(join(root, 'run'), 0o700);
      chmodSync(sv.apiSocket, 0o600);
    }
  });

  it('SIGUSR1 writes a 0600 diagnostic report and opens no inspector; the daemon goes on serving', async () => {
    const portsBefore = new Set(listeningTcp(sv.pid).map((p) => p.port));
    const logBefore = sv.daemonLog().length;
    process.kill(sv.pid, 'SIGUSR1');
    const line = await waitFor(() => /SIGUSR1: diagnostic report written to (\S+)/.exec(sv.daemonLog().slice(logBefore)) ?? undefined, { what: 'the report line in the daemon log' });
    const path = line[1] ?? '';
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600, 'the report holds the environment: root only');
      const report = JSON.parse(readFileSync(path, 'utf8')) as { header?: { processId?: number } };
      assert.equal(report.header?.processId, sv.pid);
    } finally {
      rmSync(path, { force: true });
    }
    assert.deepEqual(listeningTcp(sv.pid).filter((p) => !portsBefore.has(p.port)), [], 'no inspector on 9229');
    assert.equal((await sv.cli(['ps'])).code, 0, 'still serving');
  });
});
