/**
 * Interoperability with the Go implementation: `ctr shim` (containerd's own ttrpc 1.1 client) calls our
 * Server. ctr finds a shim at /run/containerd/s/<sha256(address/namespace/id)> (PROTOCOL.md §3.1, §3.4), so
 * the test serves there under a throw-away address, and removes only what it created.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Server } from '../server';
import type { Codec } from '../service';
import { Code, RpcError } from '../status';
import { ProtoReader, ProtoWriter } from '../wire';
import { TempDir } from './helpers';

const CTR = '/usr/bin/ctr';
const SHIM_DIR = '/run/containerd/s';

interface StateRequest {
  id: string;
}
const StateRequestCodec: Codec<StateRequest> = {
  encode: (v) => new ProtoWriter().string(1, v.id).finish(),
  decode(b) {
    const r = new ProtoReader(b);
    const out = { id: '' };
    while (!r.done) {
      const k = r.key();
      if (k.field === 1) out.id = r.string();
      else r.skip(k.wireType, k.field);
    }
    return out;
  },
};
/** StateResponse: 1 id, 2 bundle, 3 pid, 4 status, 10 exited_at (Go zero time, always sent). */
const StateResponseCodec: Codec<{ id: string; pid: number }> = {
  encode: (v) =>
    new ProtoWriter()
      .string(1, v.id)
      .string(2, '/run/bundle')
      .uint(3, v.pid)
      .uint(4, 2)
      .bytes(10, new ProtoWriter().int64(1, -62135596800n).finish())
      .finish(),
  decode: () => ({ id: '', pid: 0 }),
};
const Task = {
  name: 'containerd.task.v2.Task',
  methods: {
    state: { name: 'State', requestType: StateRequestCodec, responseType: StateResponseCodec },
    start: { name: 'Start', requestType: StateRequestCodec, responseType: StateResponseCodec },
  },
};

function ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CTR, args, { timeout: 10000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('interop with Go ttrpc (ctr shim → our Server)', function () {
  const tmp = new TempDir();
  const created: string[] = [];
  let server: Server | undefined;

  before(function () {
    // Needs root to serve in /run/containerd/s, and containerd's ctr (Debian package `containerd`).
    if (process.platform !== 'linux' || process.geteuid?.() !== 0) {
      process.stderr.write('skipped: interop with Go ttrpc: needs Linux and root\n');
      this.skip();
    }
    if (!fs.existsSync(CTR)) throw new Error(`missing prerequisite: ${CTR} — apt-get install containerd (npm test installs it)`);
  });
  after(async () => {
    await server?.close();
    // Remove the directories only if this test made them and they are empty again.
    for (const dir of created.reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // not empty: someone else uses it now
      }
    }
    tmp.cleanup();
  });

  it('ctr decodes our State reply and maps our NOT_FOUND status', async () => {
    const address = path.join(tmp.dir, 'containerd.sock');
    const namespace = 'ttrpcts';
    const id = `rx${process.pid}`;
    for (const dir of ['/run/containerd', SHIM_DIR]) {
      if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir, { mode: 0o711 });
        created.push(dir);
      }
    }
    const socketPath = path.join(SHIM_DIR, createHash('sha256').update(`${address}/${namespace}/${id}`).digest('hex'));
    server = new Server().register(Task, {
      state: (req) => Promise.resolve({ id: req.id, pid: 4242 }),
      start: () => Promise.reject(new RpcError(Code.NOT_FOUND, 'container not created: not found')),
    });
    await server.listen({ path: socketPath });

    const state = await ctr(['-a', address, '-n', namespace, 'shim', '--id', id, 'state']);
    assert.equal(state.code, 0, state.stderr);
    assert.deepEqual(JSON.parse(state.stdout), { id, bundle: '/run/bundle', pid: 4242, status: 2, exited_at: '0001-01-01T00:00:00Z' });

    const start = await ctr(['-a', address, '-n', namespace, 'shim', '--id', id, 'start', id]);
    assert.notEqual(start.code, 0);
    assert.match(start.stderr, /rpc error: code = NotFound desc = container not created: not found/);

    await server.close();
    assert.equal(fs.existsSync(socketPath), false);
  });
});
