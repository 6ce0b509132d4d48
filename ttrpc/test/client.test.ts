/**
 * Client behaviour against a hand-written raw server: stream ids, what goes on the wire (timeout_nano,
 * metadata), out-of-order responses, local deadlines (fake timers), cancellation, oversized messages both
 * ways, peer loss and close. Server-side deadlines are here too, with the same fake clock.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as sinon from 'sinon';
import { Client, type CallOptions } from '../client';
import { decodeRequest, encodeResponse, type RequestEnvelope } from '../codec';
import { ClosedError } from '../errors';
import { FrameType, MAX_MESSAGE_LENGTH, encodeFrame, encodeHeader } from '../frame';
import { FrameReader } from '../frame-reader';
import { Server } from '../server';
import type { ServiceClient, ServiceImplementation } from '../service';
import type { CallContext } from '../server-connection';
import { Code, RpcError } from '../status';
import { RawPeer, TempDir, TestService, TextCodec, bytes, deferred, delay, requestFrame, waitFor } from './helpers';

interface Received {
  streamId: number;
  type: number;
  flags: number;
  request: RequestEnvelope;
}

/** A server that records request frames and writes whatever the test tells it to. */
class RawServer {
  readonly server: net.Server;
  readonly requests: Received[] = [];
  sockets: net.Socket[] = [];

  constructor(readonly path: string) {
    this.server = net.createServer((socket) => {
      this.sockets.push(socket);
      socket.on('error', () => undefined);
      const reader = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        for (const ev of reader.push(chunk)) {
          if (ev.kind === 'frame') this.requests.push({ ...ev.header, request: decodeRequest(Buffer.from(ev.payload)) });
        }
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  /** Writes raw bytes to the latest connection. */
  send(data: Uint8Array): void {
    this.sockets.at(-1)?.write(data);
  }

  /** A success response frame carrying a Text payload. */
  reply(streamId: number, text: string): void {
    this.send(encodeFrame(streamId, FrameType.Response, encodeResponse({ payload: TextCodec.encode({ text }) })));
  }

  async waitRequests(n: number): Promise<Received[]> {
    await waitFor(() => this.requests.length >= n, 5000, `${n} requests`);
    return this.requests;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('Client', () => {
  const tmp = new TempDir();
  let raw: RawServer;
  let client: Client;
  let clock: sinon.SinonFakeTimers | undefined;

  beforeEach(async () => {
    raw = new RawServer(tmp.socketPath());
    await raw.listen();
    client = await Client.connect(raw.path);
  });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    await client.close();
    await raw.close();
  });
  after(() => tmp.cleanup());

  const stub = (): ServiceClient<typeof TestService, CallOptions> => client.service(TestService);

  it('uses odd, strictly increasing stream ids and resolves responses arriving in any order', async () => {
    const calls = [0, 1, 2].map((i) => stub().echo({ text: `c${i}` }));
    const got = await raw.waitRequests(3);
    assert.deepEqual(
      got.map((r) => [r.streamId, r.type, r.flags]),
      [
        [1, 1, 0],
        [3, 1, 0],
        [5, 1, 0],
      ],
    );
    assert.deepEqual(
      got.map((r) => [r.request.service, r.request.method, TextCodec.decode(r.request.payload).text]),
      [
        [TestService.name, 'Echo', 'c0'],
        [TestService.name, 'Echo', 'c1'],
        [TestService.name, 'Echo', 'c2'],
      ],
    );
    raw.reply(5, 'five');
    raw.reply(1, 'one');
    raw.reply(3, 'three');
    assert.deepEqual(await Promise.all(calls), [{ text: 'one' }, { text: 'three' }, { text: 'five' }]);
    assert.equal(client.pendingCalls, 0);
  });

  it('sends the deadline as timeout_nano and metadata as KeyValues (repeated keys kept)', async () => {
    clock = sinon.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    void client.call(TestService.name, 'Echo', new Uint8Array(0), { timeout: 2000, metadata: { 'containerd-namespace-ttrpc': 'rsrch', k: ['1', '2'] } }).catch(() => undefined);
    void client.call(TestService.name, 'Echo', new Uint8Array(0), { deadline: Date.now() + 5000, timeout: 9000 }).catch(() => undefined);
    void client.call(TestService.name, 'Echo', new Uint8Array(0)).catch(() => undefined);
    const [a, b, c] = await raw.waitRequests(3);
    assert.equal(a?.request.timeoutNano, 2_000_000_000n);
    assert.deepEqual(a?.request.metadata, [
      { key: 'containerd-namespace-ttrpc', value: 'rsrch' },
      { key: 'k', value: '1' },
      { key: 'k', value: '2' },
    ]);
    assert.equal(b?.request.timeoutNano, 5_000_000_000n, 'the earlier of deadline and timeout');
    assert.equal(c?.request.timeoutNano, 0n);
    assert.deepEqual(c?.request.metadata, []);
  });

  it('enforces the deadline locally (DEADLINE_EXCEEDED), drops the late response, keeps the connection', async () => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const result: { outcome?: unknown } = {};
    const call = stub()
      .echo({ text: 'slow' }, { timeout: 1000 })
      .then(
        (v) => (result.outcome = v),
        (e: unknown) => (result.outcome = e),
      );
    await raw.waitRequests(1);
    clock.tick(999);
    await delay(5);
    const settled = (): unknown => result.outcome;
    assert.equal(settled(), undefined);
    clock.tick(1);
    await call;
    const outcome = settled();
    assert.ok(outcome instanceof RpcError);
    assert.equal(outcome.code, Code.DEADLINE_EXCEEDED);
    assert.equal(outcome.message, 'context deadline exceeded');
    assert.equal(client.pendingCalls, 0);

    raw.reply(1, 'too late');
    const next = stub().echo({ text: 'next' });
    await raw.waitRequests(2);
    assert.equal(raw.requests[1]?.streamId, 3);
    raw.reply(3, 'on time');
    assert.deepEqual(await next, { text: 'on time' });
  });

  it('a deadline already past fails at once without sending anything', async () => {
    await assert.rejects(stub().echo({ text: '' }, { deadline: Date.now() - 1 }), { code: Code.DEADLINE_EXCEEDED });
    await delay(20);
    assert.equal(raw.requests.length, 0);
  });

  it('an AbortSignal cancels the call (CANCELLED, with the reason as cause); a pre-aborted one sends nothing', async () => {
    const ac = new AbortController();
    const call = stub().echo({ text: '' }, { signal: ac.signal });
    await raw.waitRequests(1);
    const reason = new Error('user gave up');
    ac.abort(reason);
    await assert.rejects(call, (err: unknown) => err instanceof RpcError && err.code === Code.CANCELLED && err.cause === reason);
    await assert.rejects(stub().echo({ text: '' }, { signal: AbortSignal.abort() }), { code: Code.CANCELLED });
    await delay(20);
    assert.equal(raw.requests.length, 1);
  });

  it('a non-OK status becomes an RpcError with its code, message and details', async () => {
    const call = stub().echo({ text: '' });
    await raw.waitRequests(1);
    raw.send(
      encodeFrame(
        1,
        FrameType.Response,
        encodeResponse({ status: { code: Code.NOT_FOUND, message: 'container not created: not found', details: [{ typeUrl: 'x.Detail', value: bytes('0801') }] }, payload: new Uint8Array(0) }),
      ),
    );
    await assert.rejects(call, (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, Code.NOT_FOUND);
      assert.equal(err.codeName, 'NOT_FOUND');
      assert.equal(err.message, 'container not created: not found');
      assert.equal(err.details[0]?.typeUrl, 'x.Detail');
      return true;
    });
  });

  it('an oversized response fails only its call (RESOURCE_EXHAUSTED); its data is skipped, the connection kept', async () => {
    const big = stub().echo({ text: 'big' });
    const small = stub().echo({ text: 'small' });
    await raw.waitRequests(2);
    const length = MAX_MESSAGE_LENGTH + 100;
    raw.send(encodeHeader({ length, streamId: 1, type: FrameType.Response, flags: 0 }));
    await assert.rejects(big, { code: Code.RESOURCE_EXHAUSTED, message: `message length ${length} exceed maximum message size of 4194304` });
    raw.send(Buffer.alloc(length, 0x0a));
    raw.reply(3, 'fine');
    assert.deepEqual(await small, { text: 'fine' });
  });

  it('an oversized request fails locally with RESOURCE_EXHAUSTED and sends nothing', async () => {
    await assert.rejects(stub().echo({ text: 'x'.repeat(MAX_MESSAGE_LENGTH) }), (err: unknown) => {
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.match(err.message, /^message length \d+ exceed maximum message size of 4194304$/);
      return true;
    });
    const next = stub().echo({ text: 'ok' });
    await raw.waitRequests(1);
    assert.equal(raw.requests[0]?.streamId, 1, 'no stream id consumed');
    raw.reply(1, 'ok');
    await next;
  });

  it('ignores request, data and unknown frames from the server; an undecodable response fails its call (INTERNAL)', async () => {
    const call = stub().echo({ text: '' });
    await raw.waitRequests(1);
    raw.send(requestFrame(1, 'x', 'y'));
    raw.send(encodeFrame(1, FrameType.Data, bytes('00'), 1));
    raw.send(encodeFrame(1, 0x42, bytes('00')));
    raw.send(encodeFrame(1, FrameType.Response, bytes('0a 09 08')));
    await assert.rejects(call, (err: unknown) => err instanceof RpcError && err.code === Code.INTERNAL && /unmarshal response error/.test(err.message));
  });

  it('when the server goes away every pending call fails with ClosedError and close is emitted once', async () => {
    const closeEvents: ClosedError[] = [];
    client.on('close', (reason) => closeEvents.push(reason));
    const calls = [stub().echo({ text: 'a' }), stub().echo({ text: 'b' })].map((p) => assert.rejects(p, (err: unknown) => err instanceof ClosedError && err.code === 'TTRPC_ERR_CLOSED'));
    await raw.waitRequests(2);
    for (const s of raw.sockets) s.destroy();
    await Promise.all(calls);
    await waitFor(() => closeEvents.length === 1);
    assert.ok(client.closed);
    await assert.rejects(stub().echo({ text: 'later' }), ClosedError);
    await delay(10);
    assert.equal(closeEvents.length, 1);
  });

  it('close() fails pending calls with ClosedError, is idempotent, and emits close once', async () => {
    let closes = 0;
    client.on('close', () => closes++);
    const call = assert.rejects(stub().echo({ text: '' }), { code: 'TTRPC_ERR_CLOSED', message: 'ttrpc: client closed' });
    await raw.waitRequests(1);
    await Promise.all([client.close(), client.close()]);
    await client.close();
    await call;
    assert.equal(closes, 1);
  });

  it('wraps an existing socket: calls made while it is still connecting are sent once connected', async () => {
    const own = new Client(net.createConnection({ path: raw.path }));
    try {
      const call = own.service(TestService).echo({ text: 'early' });
      await raw.waitRequests(1);
      assert.equal(raw.requests[0]?.streamId, 1);
      raw.reply(1, 'answered');
      assert.deepEqual(await call, { text: 'answered' });
    } finally {
      await own.close();
    }
  });

  it('wrapping a socket that is already closed: calls fail with ClosedError and close() resolves', async () => {
    const socket = net.createConnection({ path: raw.path });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    const dead = new Client(socket);
    assert.equal(dead.closed, true);
    await assert.rejects(dead.service(TestService).echo({ text: '' }), ClosedError);
    await dead.close();
  });

  it('connect to a missing socket rejects with the system error; an aborted connect with CANCELLED', async () => {
    await assert.rejects(Client.connect(`unix://${tmp.socketPath()}`), { code: 'ENOENT' });
    await assert.rejects(Client.connect(raw.path, { signal: AbortSignal.abort() }), { code: Code.CANCELLED });
  });
});

describe('server-side deadlines (fake timers)', () => {
  const tmp = new TempDir();
  let server: Server;
  let socketPath: string;
  let clock: sinon.SinonFakeTimers;
  let started: ReturnType<typeof deferred<CallContext>>;
  let release: ReturnType<typeof deferred<void>>;
  let calls = 0;

  beforeEach(async () => {
    clock = sinon.useFakeTimers({ now: 5_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    started = deferred<CallContext>();
    release = deferred();
    calls = 0;
    socketPath = tmp.socketPath();
    server = new Server().register(TestService, {
      echo: (req) => Promise.resolve({ text: req.text }),
      wait: async (_req, ctx) => {
        calls++;
        started.resolve(ctx);
        await release.promise;
        return { text: 'late' };
      },
      state: () => Promise.resolve({ text: '' }),
      empty: () => Promise.resolve({}),
    });
    await server.listen({ path: socketPath });
  });
  afterEach(async () => {
    clock.restore();
    await server.close();
  });
  after(() => tmp.cleanup());

  it('answers DEADLINE_EXCEEDED when timeout_nano passes, aborts the handler’s signal, drops its late reply', async () => {
    const peer = new RawPeer(socketPath);
    peer.write(requestFrame(1, TestService.name, 'Wait', undefined, { timeoutNano: 50_000_000n }));
    const ctx = await started.promise;
    assert.equal(ctx.deadline, 5_000_050);
    clock.tick(49);
    await delay(10);
    assert.equal(peer.frames.length, 0);
    clock.tick(1);
    const { streamId, response } = await peer.nextResponse();
    assert.equal(streamId, 1);
    assert.deepEqual(response.status, { code: Code.DEADLINE_EXCEEDED, message: 'context deadline exceeded', details: [] });
    assert.ok(ctx.signal.aborted);
    assert.ok(ctx.signal.reason instanceof RpcError && ctx.signal.reason.code === Code.DEADLINE_EXCEEDED);
    release.resolve();
    peer.write(requestFrame(3, TestService.name, 'Echo', TextCodec.encode({ text: 'after' })));
    const next = await peer.nextResponse();
    assert.equal(next.streamId, 3, 'no second response for stream 1');
    peer.destroy();
  });

  it('a negative timeout_nano is a deadline already past: DEADLINE_EXCEEDED without running the handler', async () => {
    const peer = new RawPeer(socketPath);
    peer.write(requestFrame(1, TestService.name, 'Wait', undefined, { timeoutNano: -1n }));
    const { response } = await peer.nextResponse();
    assert.equal(response.status?.code, Code.DEADLINE_EXCEEDED);
    assert.equal(calls, 0);
    peer.destroy();
  });

  it('a call that finishes in time is answered normally and its timer cleared', async () => {
    const peer = new RawPeer(socketPath);
    peer.write(requestFrame(1, TestService.name, 'Wait', undefined, { timeoutNano: 50_000_000n }));
    await started.promise;
    release.resolve();
    const { response } = await peer.nextResponse();
    assert.equal(response.status, undefined);
    assert.equal(clock.countTimers(), 0);
    peer.destroy();
  });
});

describe('client stubs', () => {
  const tmp = new TempDir();
  after(() => tmp.cleanup());

  it('a stub is a service implementation: a proxy forwards calls, deadline and metadata via its context', async () => {
    const seen = deferred<CallContext>();
    const backendPath = tmp.socketPath();
    const backend = new Server().register(TestService, {
      echo: (req, ctx) => {
        seen.resolve(ctx);
        return Promise.resolve({ text: `backend ${req.text}` });
      },
      wait: () => Promise.reject(new RpcError(Code.FAILED_PRECONDITION, 'not now')),
      state: () => Promise.resolve({ text: '' }),
      empty: () => Promise.resolve({}),
    });
    await backend.listen({ path: backendPath });
    const upstream = await Client.connect(backendPath);
    const stub: ServiceImplementation<typeof TestService, CallOptions | undefined> = upstream.service(TestService);

    const proxyPath = tmp.socketPath();
    const proxy = new Server().register(TestService, upstream.service(TestService));
    await proxy.listen({ path: proxyPath });
    const client = await Client.connect(proxyPath);
    try {
      const before = Date.now();
      const reply = await client.service(TestService).echo({ text: 'via proxy' }, { timeout: 3000, metadata: { 'containerd-namespace-ttrpc': 'ns' } });
      assert.deepEqual(reply, { text: 'backend via proxy' });
      const ctx = await seen.promise;
      assert.equal(ctx.metadata.get('containerd-namespace-ttrpc'), 'ns');
      assert.ok(ctx.deadline !== undefined && ctx.deadline <= before + 3000 + 50 && ctx.deadline > before + 2000);
      await assert.rejects(client.service(TestService).wait({ text: '' }), { code: Code.FAILED_PRECONDITION, message: 'not now' });
      assert.deepEqual(await stub.state({ text: '' }, undefined), { text: '' });
    } finally {
      await client.close();
      await proxy.close();
      await upstream.close();
      await backend.close();
    }
  });
});
