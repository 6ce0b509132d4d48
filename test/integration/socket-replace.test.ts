/**
 * A stale shim socket replaced by two `start`s of one group at once (shim/manager/socket.ts
 * listen): the one that comes second waits for the first under the lock beside the socket, then
 * finds the new socket live and shares it, instead of unlinking it and making a second daemon's.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { isListening, listen } from '../../shim/manager/socket';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('shim/manager/socket: replacing a stale socket (real kernel, flock(1) as the other start)', function () {
  let dir: string;
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];

  before(function () {
    requireSystem(this, ['flock']);
  });
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tsrunc-sock-'))));
  afterEach(async () => {
    for (const child of children.splice(0)) {
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL'); // its process group: the server it started outlives it
      } catch {
        // the group is gone
      }
      await exited;
    }
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A socket file nothing listens on, as a SIGKILLed shim leaves it. */
  async function staleSocket(path: string): Promise<void> {
    const old = net.createServer();
    await new Promise<void>((resolve) => old.listen(path, resolve));
    linkSync(path, `${path}.aside`);
    await new Promise<void>((resolve) => old.close(() => resolve()));
    renameSync(`${path}.aside`, path);
    assert.equal(await isListening(path), false);
  }

  it('a start that meets the stale socket while another replaces it shares the new one', async () => {
    const path = join(dir, 'sock');
    const go = join(dir, 'go');
    const ready = join(dir, 'ready');
    await staleSocket(path);
    // The new socket's server: started now (a Node start can take long on a loaded machine), it
    // replaces the stale socket when told to.
    const polling = join(dir, 'polling');
    const serve = `const fs = require('fs'); fs.writeFileSync(${JSON.stringify(polling)}, ''); const t = setInterval(() => { if (!fs.existsSync(${JSON.stringify(go)})) return; clearInterval(t); fs.unlinkSync(${JSON.stringify(path)}); require('net').createServer().listen(${JSON.stringify(path)}, () => fs.writeFileSync(${JSON.stringify(ready)}, '')); }, 5);`;
    const server = spawn(process.execPath, ['-e', serve], { stdio: 'ignore', detached: true });
    children.push(server);
    await waitFor(() => existsSync(polling), { what: 'the server process to be up', timeoutMs: 30_000 });
    // The other start: holds the lock; once we wait for it (our process has the lock file open),
    // has the server replace the socket, then lets go.
    const script = [
      `until [ -n "$(find /proc/${process.pid}/fd -lname '${path}.lock' 2>/dev/null)" ]; do sleep 0.01; done`,
      `: > '${go}'`,
      `until [ -e '${ready}' ]; do sleep 0.01; done`,
    ].join('\n');
    const other = spawn('flock', ['-o', `${path}.lock`, 'sh', '-c', `echo held; ${script}`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    children.push(other);
    await new Promise<void>((resolve, reject) => {
      other.stdout?.once('data', () => resolve());
      other.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
    });
    const l = await listen(path, loadNative);
    if ('server' in l) servers.push(l.server);
    assert.deepEqual(l, { inUse: true }, 'it waited for the other start and found its socket live');
    assert.equal(await isListening(path), true);
  });

  it('a stale socket nobody else replaces is replaced, and the lock beside it is gone after', async () => {
    const path = join(dir, 'sock');
    await staleSocket(path);
    const l = await listen(path, loadNative);
    assert.ok('server' in l);
    servers.push(l.server);
    assert.equal(await isListening(path), true);
    assert.equal(existsSync(`${path}.lock`), false, 'let go of and removed');
  });
});
