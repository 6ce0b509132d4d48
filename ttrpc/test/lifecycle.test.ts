/**
 * Server lifecycle: shutdown (graceful) vs close (forced), idempotency, registration rules, and the three
 * listen targets (path, inherited fd, existing net.Server) with their socket-file rules.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client } from '../client';
import { ClosedError, DuplicateServiceError, ServerClosedError } from '../errors';
import { Server } from '../server';
import type { CallContext } from '../server-connection';
import { renameService, type ServiceImplementation } from '../service';
import { RawPeer, TempDir, TestService, deferred, delay, requestFrame, waitFor } from './helpers';

function slowImplementation(gate: Promise<void>, started: () => void): ServiceImplementation<typeof TestService, CallContext> {
  return {
    echo: (req) => Promise.resolve({ text: req.text }),
    wait: async (req) => {
      started();
      await gate;
      return { text: `done ${req.text}` };
    },
    state: () => Promise.resolve({ text: 'state' }),
    empty: () => Promise.resolve({}),
  };
}

describe('Server lifecycle', () => {
  const tmp = new TempDir();
  after(() => tmp.cleanup());

  describe('shutdown vs close', () => {
    it('shutdown waits for an in-flight slow call, which completes; idle connections close at once', async () => {
      const gate = deferred();
      const started = deferred();
      const socketPath = tmp.socketPath();
      const server = new Server().register(TestService, slowImplementation(gate.promise, started.resolve));
      await server.listen({ path: socketPath });
      const busy = await Client.connect(socketPath);
      const idle = await Client.connect(socketPath);
      await idle.service(TestService).state({ text: '' });
      const call = busy.service(TestService).wait({ text: 'slow' });
      await started.promise;

      let shutdownDone = false;
      const shutdown = server.shutdown().then(() => (shutdownDone = true));
      await new Promise((resolve) => idle.once('close', resolve));
      assert.equal(fs.existsSync(socketPath), false, 'no longer accepting');
      await delay(30);
      assert.equal(shutdownDone, false);
      assert.equal(busy.closed, false);

      gate.resolve();
      assert.deepEqual(await call, { text: 'done slow' });
      await shutdown;
      assert.equal(server.connectionCount, 0);
      await waitFor(() => busy.closed, 2000, 'client sees the connection end');
      await Promise.all([busy.close(), idle.close()]);
    });

    it('close abandons an in-flight call: the client gets a ClosedError, the handler’s signal aborts', async () => {
      const aborted = deferred<unknown>();
      const socketPath = tmp.socketPath();
      const server = new Server().register(TestService, {
        ...slowImplementation(new Promise(() => undefined), () => undefined),
        wait: (_req, ctx) => {
          ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
          return new Promise(() => undefined);
        },
      });
      await server.listen({ path: socketPath });
      const client = await Client.connect(socketPath);
      const call = assert.rejects(client.service(TestService).wait({ text: '' }), (err: unknown) => err instanceof ClosedError && err.code === 'TTRPC_ERR_CLOSED');
      await waitFor(() => server.connectionCount === 1);
      await delay(20);
      await server.close();
      await call;
      assert.ok((await aborted.promise) instanceof ClosedError);
      await client.close();
    });

    it('shutdown and close are idempotent and can follow each other; listen after close is refused', async () => {
      const socketPath = tmp.socketPath();
      const server = new Server().register(TestService, slowImplementation(Promise.resolve(), () => undefined));
      await server.listen({ path: socketPath });
      const a = server.shutdown();
      const b = server.shutdown();
      assert.equal(a, b);
      await a;
      await server.close();
      await server.close();
      await server.shutdown();
      await assert.rejects(server.listen({ path: tmp.socketPath() }), ServerClosedError);
    });

    it('close during shutdown forces the in-flight call to end', async () => {
      const socketPath = tmp.socketPath();
      const started = deferred();
      const server = new Server().register(TestService, slowImplementation(new Promise(() => undefined), started.resolve));
      await server.listen({ path: socketPath });
      const client = await Client.connect(socketPath);
      const call = assert.rejects(client.service(TestService).wait({ text: '' }), ClosedError);
      await started.promise;
      const shutdown = server.shutdown();
      await delay(20);
      await server.close();
      await shutdown;
      await call;
      await client.close();
    });
  });

  describe('registration', () => {
    it('rejects a duplicate service name; the same definition is served under another name with renameService', async () => {
      const impl = slowImplementation(Promise.resolve(), () => undefined);
      const server = new Server().register(TestService, impl);
      assert.throws(() => server.register(TestService, impl), DuplicateServiceError);
      const v3 = renameService(TestService, 'test.v3.Test');
      server.register(v3, impl);
      assert.deepEqual(server.services, ['test.v1.Test', 'test.v3.Test']);
      const socketPath = tmp.socketPath();
      await server.listen({ path: socketPath });
      const client = await Client.connect(socketPath);
      try {
        assert.deepEqual(await client.service(v3).echo({ text: 'v3' }), { text: 'v3' });
        assert.deepEqual(await client.service(TestService).echo({ text: 'v2' }), { text: 'v2' });
      } finally {
        await client.close();
        await server.close();
      }
    });

    it('rejects an implementation that lacks a method', () => {
      assert.throws(() => new Server().register(TestService, {} as ServiceImplementation<typeof TestService, CallContext>), /has no method echo/);
    });
  });

  describe('listen targets', () => {
    const impl = slowImplementation(Promise.resolve(), () => undefined);

    it('{ path }: the socket file is removed on close by default, kept with unlinkOnClose: false', async () => {
      const removed = tmp.socketPath();
      const s1 = new Server().register(TestService, impl);
      await s1.listen({ path: removed });
      assert.ok(fs.statSync(removed).isSocket());
      await s1.close();
      assert.equal(fs.existsSync(removed), false);

      const kept = tmp.socketPath();
      const s2 = new Server().register(TestService, impl);
      await s2.listen({ path: kept, unlinkOnClose: false });
      const client = await Client.connect(kept);
      await client.service(TestService).state({ text: '' });
      await s2.close();
      await client.close();
      assert.ok(fs.statSync(kept).isSocket());
      assert.deepEqual(
        fs.readdirSync(path.dirname(kept)).filter((f) => f.includes('.keep-')),
        [],
      );
      // nothing listens any more
      await assert.rejects(Client.connect(kept), { code: 'ECONNREFUSED' });
    });

    it('close while listen is binding: listen rejects and the new listener is closed too', async () => {
      const socketPath = tmp.socketPath();
      const server = new Server().register(TestService, impl);
      const listening = server.listen({ path: socketPath });
      await server.close();
      await assert.rejects(listening, ServerClosedError);
      assert.equal(fs.existsSync(socketPath), false);
    });

    it('a listen error (path in use) rejects listen', async () => {
      const socketPath = tmp.socketPath();
      const s1 = new Server().register(TestService, impl);
      await s1.listen({ path: socketPath });
      const s2 = new Server().register(TestService, impl);
      await assert.rejects(s2.listen({ path: socketPath }), { code: 'EADDRINUSE' });
      await Promise.all([s1.close(), s2.close()]);
    });

    it('an existing net.Server: sockets stay unread until accepted, calls are served', async () => {
      const socketPath = tmp.socketPath();
      const netServer = net.createServer();
      await new Promise<void>((resolve) => netServer.listen(socketPath, resolve));
      let bytesReadAtHandshake = -1;
      const server = new Server({
        handshake: async (socket) => {
          await delay(30);
          bytesReadAtHandshake = socket.bytesRead;
        },
      }).register(TestService, impl);
      await server.listen(netServer);
      const peer = new RawPeer(socketPath);
      peer.write(requestFrame(1, TestService.name, 'State'));
      assert.equal((await peer.nextResponse()).streamId, 1);
      assert.equal(bytesReadAtHandshake, 0);
      peer.destroy();
      await server.close();
      assert.equal(netServer.listening, false);
    });

    it('{ fd: 3 }: a daemon serves a listener inherited from the process that bound it, and never unlinks it', async function () {
      this.timeout(20000);
      const socketPath = tmp.socketPath();
      const dist = path.resolve(__dirname, '..');
      const daemon = path.join(tmp.dir, 'daemon.js');
      fs.writeFileSync(
        daemon,
        `const { Server } = require(${JSON.stringify(path.join(dist, 'index.js'))});
const { TestService } = require(${JSON.stringify(path.join(dist, 'test', 'helpers.js'))});
process.on('SIGUSR1', () => undefined);
const server = new Server().register(TestService, {
  echo: async (r) => ({ text: 'daemon ' + r.text }), wait: async () => ({ text: '' }),
  state: async () => ({ text: '' }), empty: async () => ({}),
});
process.on('SIGTERM', () => { server.close().then(() => process.exit(0)); });
server.listen({ fd: 3 }).then(() => process.stdout.write('ready\\n'));
`,
      );
      // The "start" process: binds, hands the raw fd to a detached daemon, prints its pid, exits without close().
      const starter = `const net = require('net'); const { spawn } = require('child_process');
const s = net.createServer(); s.listen(${JSON.stringify(socketPath)}, () => {
  const child = spawn(process.execPath, [${JSON.stringify(daemon)}], { stdio: ['ignore', 'inherit', 'inherit', s._handle.fd] });
  process.stdout.write(child.pid + '\\n'); child.unref(); process.exit(0);
});`;
      const start = spawn(process.execPath, ['-e', starter], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      start.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('ready'), 10000, 'daemon ready');
      const pid = Number(out.split('\n')[0]);
      try {
        const client = await Client.connect(socketPath);
        assert.deepEqual(await client.service(TestService).echo({ text: 'fd3' }), { text: 'daemon fd3' });
        const closed = new Promise((resolve) => client.once('close', resolve));
        process.kill(pid, 'SIGTERM');
        await closed;
        await waitFor(() => !isAlive(pid), 5000, 'daemon exit');
        assert.ok(fs.statSync(socketPath).isSocket(), 'socket file left in place');
      } finally {
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      }
    });
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
