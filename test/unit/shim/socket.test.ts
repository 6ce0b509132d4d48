/**
 * The shim's socket address (PROTOCOL §3.1: sha256 of Go's filepath.Join of address, namespace and
 * group key, under the hard-coded /run/containerd/s) and its creation (§2.5, §3.3): 0600 from the
 * first instant, a live socket never stolen, a stale one replaced.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { linkSync, renameSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SOCKET_DIR, isListening, listen, socketAddress, socketPath } from '../../../shim/manager/socket';
import { FakeNative } from '../../../native/fake';
import { tempDir } from './fakes';

/** listen takes the lock beside a stale socket (integration/socket-replace.test.ts has the real one). */
const lockNative = (): FakeNative => new FakeNative();

/** Go's path.Clean, written from its documented rules (independent of node:path). */
function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** Go's filepath.Join: empty elements ignored, the result cleaned. */
function goJoin(...elems: string[]): string {
  const kept = elems.filter((e) => e !== '');
  return kept.length === 0 ? '' : goClean(kept.join('/'));
}

function goAddress(address: string, namespace: string, key: string): string {
  return `unix:///run/containerd/s/${createHash('sha256').update(goJoin(address, namespace, key)).digest('hex')}`;
}

const EXAMPLE = 'unix:///run/containerd/s/acd23c6f85848ad0c1dddf8f48cf04c660d4e907cfd99b16fa3e0b2ed19a55c9';

describe('shim/manager/socket: socketAddress (PROTOCOL §3.1)', () => {
  it('gives the address the Go shim printed for /tmp/ct/containerd.sock, rsrch, rx1', () => {
    assert.equal(socketAddress('/tmp/ct/containerd.sock', 'rsrch', 'rx1'), EXAMPLE);
    assert.equal(goAddress('/tmp/ct/containerd.sock', 'rsrch', 'rx1'), EXAMPLE, 'the reference implementation agrees');
  });

  it('hashes the default setup as /run/containerd/containerd.sock/default/mycontainer', () => {
    const hash = createHash('sha256').update('/run/containerd/containerd.sock/default/mycontainer').digest('hex');
    assert.equal(socketAddress('/run/containerd/containerd.sock', 'default', 'mycontainer'), `unix://${SOCKET_DIR}/${hash}`);
  });

  it('is an 82-byte path under the hard-coded /run/containerd/s, even for a 76-char namespace and a 76-char id', () => {
    const long = 'n'.repeat(76);
    const address = socketAddress('/var/run/some/very/long/containerd/state/directory/containerd.sock', long, 'i'.repeat(76));
    assert.equal(socketPath(address).length, 82);
    assert.ok(socketPath(address).startsWith('/run/containerd/s/'));
    assert.ok(socketPath(address).length < 108, 'fits sun_path');
  });

  const spellings: [string, string][] = [
    ['a trailing slash', '/tmp/ct/containerd.sock/'],
    ['doubled slashes', '/tmp//ct///containerd.sock'],
    ['a leading //', '//tmp/ct/containerd.sock'],
    ['a . component', '/tmp/./ct/containerd.sock'],
    ['a .. component', '/tmp/other/../ct/containerd.sock'],
    ['.. above the root', '/../tmp/ct/containerd.sock'],
  ];
  for (const [what, address] of spellings) {
    it(`cleans ${what} in the address as Go's filepath.Join does`, () => {
      assert.equal(socketAddress(address, 'rsrch', 'rx1'), EXAMPLE);
      assert.equal(goAddress(address, 'rsrch', 'rx1'), EXAMPLE);
    });
  }

  const others: [string, string, string][] = [
    ['ct/containerd.sock', 'ns', 'id'],
    ['../ct/x.sock', 'ns', 'id'],
    ['a/../../x.sock', 'ns', 'id'],
    ['/run/containerd/containerd.sock', 'k8s.io', 'f0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f'],
    ['/', 'ns', 'id'],
  ];
  for (const [address, ns, key] of others) {
    it(`agrees with Go's join for ${address} ${ns} ${key.slice(0, 12)}`, () => {
      assert.equal(socketAddress(address, ns, key), goAddress(address, ns, key));
    });
  }

  it('different namespaces, keys or addresses give different sockets', () => {
    const set = new Set([socketAddress('/a.sock', 'ns', 'x'), socketAddress('/a.sock', 'ns2', 'x'), socketAddress('/a.sock', 'ns', 'y'), socketAddress('/b.sock', 'ns', 'x')]);
    assert.equal(set.size, 4);
  });
});

describe('shim/manager/socket: socketPath', () => {
  it('strips unix://', () => {
    assert.equal(socketPath(EXAMPLE), '/run/containerd/s/acd23c6f85848ad0c1dddf8f48cf04c660d4e907cfd99b16fa3e0b2ed19a55c9');
  });

  for (const address of ['/run/containerd/s/x', '\0/containerd-shim/ns/id/shim.sock', 'containerd-shim/ns/id', 'UNIX:///x', 'tcp://127.0.0.1:1']) {
    it(`refuses ${JSON.stringify(address)} (abstract or not a unix path)`, () => {
      assert.throws(() => socketPath(address), { message: `not a filesystem socket address: ${address}` });
    });
  }
});

describe('shim/manager/socket: listen', () => {
  let dir: ReturnType<typeof tempDir>;
  const servers: net.Server[] = [];
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    dir.cleanup();
  });

  function serve(path: string): Promise<net.Server> {
    const server = net.createServer((s) => s.destroy());
    servers.push(server);
    return new Promise((resolve) => server.listen(path, () => resolve(server)));
  }

  it('binds a 0600 socket and hands back its fd', async () => {
    const path = join(dir.path, 'sock');
    const l = await listen(path, lockNative);
    assert.ok('server' in l);
    servers.push(l.server);
    assert.ok(Number.isInteger(l.fd) && l.fd > 2);
    assert.ok(statSync(path).isSocket());
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await isListening(path), true);
  });

  it('never steals a live socket: another shim of the group keeps it', async () => {
    const path = join(dir.path, 'sock');
    await serve(path);
    let lockTaken = false;
    const noLock = (): FakeNative => {
      lockTaken = true;
      return new FakeNative();
    };
    assert.deepEqual(await listen(path, noLock), { inUse: true });
    assert.equal(lockTaken, false, 'a live socket is answered without the lock (nor koffi, in `start`)');
    assert.equal(await isListening(path), true);
  });

  it('replaces a stale socket nobody answers on (a SIGKILLed shim)', async () => {
    const path = join(dir.path, 'sock');
    const old = await serve(path);
    const aside = join(dir.path, 'aside');
    linkSync(path, aside); // keep the socket file across close, as a dead process leaves it
    await new Promise<void>((resolve) => old.close(() => resolve()));
    servers.splice(servers.indexOf(old), 1);
    renameSync(aside, path);
    assert.equal(await isListening(path), false);
    const l = await listen(path, lockNative);
    assert.ok('server' in l);
    servers.push(l.server);
    assert.equal(await isListening(path), true);
  });

  it('isListening is false for a missing path and for a regular file', async () => {
    assert.equal(await isListening(join(dir.path, 'none')), false);
    writeFileSync(join(dir.path, 'file'), 'x');
    assert.equal(await isListening(join(dir.path, 'file')), false);
  });
});
