/**
 * Server behaviour, spoken to with hand-written bytes over real unix sockets: dispatch statuses (exact Go
 * texts), stream id rules, streaming flags, ignored frame types, oversized and truncated frames, garbage,
 * and what reaches the handler.
 */
import * as assert from 'node:assert/strict';
import { Client } from '../client';
import { Code, RpcError } from '../status';
import { FrameType, MAX_MESSAGE_LENGTH, encodeFrame, encodeHeader } from '../frame';
import { Server } from '../server';
import type { CallContext } from '../server-connection';
import type { ServiceImplementation } from '../service';
import { RawPeer, TempDir, TestService, TextCodec, bytes, deferred, delay, requestFrame, waitFor } from './helpers';

const SVC = TestService.name;

/** Echo answers its text; Wait blocks until released; State answers at once; Empty returns Empty. */
function implementation(overrides: Partial<ServiceImplementation<typeof TestService, CallContext>> = {}): ServiceImplementation<typeof TestService, CallContext> {
  return {
    echo: (req) => Promise.resolve({ text: req.text }),
    wait: () => new Promise(() => undefined),
    state: (req) => Promise.resolve({ text: `state ${req.text}` }),
    empty: () => Promise.resolve({}),
    ...overrides,
  };
}

function status(code: Code, message: string): { code: number; message: string; details: [] } {
  return { code, message, details: [] };
}

describe('Server (raw bytes over a unix socket)', () => {
  const tmp = new TempDir();
  let server: Server;
  let path: string;
  const peers: RawPeer[] = [];

  function peer(): RawPeer {
    const p = new RawPeer(path);
    peers.push(p);
    return p;
  }

  async function start(impl = implementation(), options: ConstructorParameters<typeof Server>[0] = {}): Promise<void> {
    path = tmp.socketPath();
    server = new Server(options).register(TestService, impl);
    await server.listen({ path });
  }

  /** A well-formed Echo on a fresh connection is answered: the server still serves. */
  async function assertServing(): Promise<void> {
    const p = peer();
    p.write(requestFrame(1, SVC, 'Echo', TextCodec.encode({ text: 'still here' })));
    const { response } = await p.nextResponse();
    assert.deepEqual(TextCodec.decode(response.payload), { text: 'still here' });
    p.destroy();
  }

  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await server.close();
  });
  after(() => tmp.cleanup());

  describe('dispatch', () => {
    beforeEach(() => start());

    it('answers a call on the request stream id with the encoded reply and no status', async () => {
      const p = peer();
      p.write(requestFrame(5, SVC, 'Echo', TextCodec.encode({ text: 'hi' })));
      const { streamId, response, frame } = await p.nextResponse();
      assert.equal(streamId, 5);
      assert.equal(frame.header.type, FrameType.Response);
      assert.equal(frame.header.flags, 0);
      assert.equal(response.status, undefined);
      assert.deepEqual(TextCodec.decode(response.payload), { text: 'hi' });
    });

    it('answers an Empty reply with a zero-length response frame', async () => {
      const p = peer();
      p.write(requestFrame(3, SVC, 'Empty'));
      await p.waitFrames(1);
      assert.deepEqual(p.rawBytes, bytes('00000000 00000003 02 00'));
    });

    it('unknown service → UNIMPLEMENTED "service <name>"; unknown method → UNIMPLEMENTED "method <name>"', async () => {
      const p = peer();
      p.write(requestFrame(1, 'no.such.Service', 'Echo'));
      p.write(requestFrame(3, SVC, 'Nope'));
      assert.deepEqual((await p.nextResponse()).response.status, status(Code.UNIMPLEMENTED, 'service no.such.Service'));
      assert.deepEqual((await p.nextResponse()).response.status, status(Code.UNIMPLEMENTED, 'method Nope'));
    });

    it('a request envelope that does not decode → INVALID_ARGUMENT "unmarshal request error: …", connection kept', async () => {
      const p = peer();
      p.write(encodeFrame(1, FrameType.Request, bytes('0a 7f 41')));
      const { streamId, response } = await p.nextResponse();
      assert.equal(streamId, 1);
      assert.equal(response.status?.code, Code.INVALID_ARGUMENT);
      assert.match(response.status?.message ?? '', /^unmarshal request error: proto: /);
      p.write(requestFrame(3, SVC, 'State', TextCodec.encode({ text: 'x' })));
      assert.deepEqual(TextCodec.decode((await p.nextResponse()).response.payload), { text: 'state x' });
    });

    it('a payload that does not decode → INTERNAL "ttrpc: error unmarshalling payload: …"', async () => {
      const p = peer();
      p.write(requestFrame(1, SVC, 'Echo', bytes('0a 05 41')));
      const { response } = await p.nextResponse();
      assert.equal(response.status?.code, Code.INTERNAL);
      assert.match(response.status?.message ?? '', /^ttrpc: error unmarshalling payload: proto: .*overruns/);
    });
  });

  describe('handler outcomes', () => {
    it('an RpcError keeps its code and message; any other error is UNKNOWN with its message', async () => {
      await start(
        implementation({
          echo: () => Promise.reject(new RpcError(Code.NOT_FOUND, 'container not created: not found')),
          state: () => Promise.reject(new Error('cannot delete a running process')),
          wait: () => {
            throw new TypeError('thrown synchronously');
          },
          empty: () => Promise.resolve(undefined as unknown as Record<string, never>),
        }),
      );
      const p = peer();
      p.write(requestFrame(1, SVC, 'Echo'));
      p.write(requestFrame(3, SVC, 'State'));
      p.write(requestFrame(5, SVC, 'Wait'));
      p.write(requestFrame(7, SVC, 'Empty'));
      const got = new Map<number, unknown>();
      for (let i = 0; i < 4; i++) {
        const { streamId, response } = await p.nextResponse();
        got.set(streamId, response.status);
      }
      assert.deepEqual(got.get(1), status(Code.NOT_FOUND, 'container not created: not found'));
      assert.deepEqual(got.get(3), status(Code.UNKNOWN, 'cannot delete a running process'));
      assert.deepEqual(got.get(5), status(Code.UNKNOWN, 'thrown synchronously'));
      assert.deepEqual(got.get(7), status(Code.UNKNOWN, 'ttrpc: marshal called with nil'));
    });

    it('onAnswered runs once per call answered, a failed one too, and not for one still in flight', async () => {
      let answered = 0;
      await start(implementation({ state: () => Promise.reject(new Error('no')) }), { onAnswered: () => answered++ });
      const p = peer();
      p.write(requestFrame(1, SVC, 'Echo', TextCodec.encode({ text: 'a' })));
      p.write(requestFrame(3, SVC, 'Wait'));
      p.write(requestFrame(5, SVC, 'State'));
      await p.nextResponse();
      await p.nextResponse();
      // it runs when the response is handed to the socket: before the peer can have read it
      assert.equal(answered, 2, 'Echo and the failed State; Wait is still in flight');
      p.write(requestFrame(7, SVC, 'Empty'));
      await p.nextResponse();
      assert.equal(answered, 3);
    });

    it('a reply over 4 MiB becomes RESOURCE_EXHAUSTED; the connection keeps serving', async () => {
      await start(implementation({ echo: () => Promise.resolve({ text: 'x'.repeat(MAX_MESSAGE_LENGTH) }) }));
      const p = peer();
      p.write(requestFrame(1, SVC, 'Echo'));
      const { response } = await p.nextResponse();
      assert.equal(response.status?.code, Code.RESOURCE_EXHAUSTED);
      assert.match(response.status?.message ?? '', /^message length \d+ exceed maximum message size of 4194304$/);
      p.write(requestFrame(3, SVC, 'State'));
      assert.equal((await p.nextResponse()).response.status, undefined);
    });

    it('gives the handler service, method, metadata (repeated keys as a list), deadline and no peer', async () => {
      const seen = deferred<CallContext>();
      await start(
        implementation({
          echo: (_req, ctx) => {
            seen.resolve(ctx);
            return Promise.resolve({ text: '' });
          },
        }),
      );
      const p = peer();
      const before = Date.now();
      p.write(
        requestFrame(1, SVC, 'Echo', undefined, {
          timeoutNano: 5_000_000_000n,
          metadata: [
            { key: 'containerd-namespace-ttrpc', value: 'rsrch' },
            { key: 'k', value: '1' },
            { key: 'k', value: '2' },
          ],
        }),
      );
      const ctx = await seen.promise;
      assert.equal(ctx.service, SVC);
      assert.equal(ctx.method, 'Echo');
      assert.equal(ctx.streamId, 1);
      assert.equal(ctx.metadata.get('containerd-namespace-ttrpc'), 'rsrch');
      assert.deepEqual(ctx.metadata.getAll('k'), ['1', '2']);
      assert.ok(ctx.deadline !== undefined && ctx.deadline >= before + 5000 && ctx.deadline <= Date.now() + 5000);
      assert.equal(ctx.signal.aborted, false);
      assert.equal(ctx.peer, undefined);
    });

    it('aborts the handler’s signal when the connection is lost', async () => {
      const aborted = deferred<unknown>();
      await start(
        implementation({
          wait: (_req, ctx) => {
            ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
            return new Promise(() => undefined);
          },
        }),
      );
      const p = peer();
      p.write(requestFrame(1, SVC, 'Wait'));
      await waitFor(() => server.connectionCount === 1);
      await delay(20);
      p.destroy();
      const reason = await aborted.promise;
      assert.equal((reason as { code?: string }).code, 'TTRPC_ERR_CLOSED');
    });

    it('a signal first read after the connection was lost starts aborted (it is made on first use)', async () => {
      const called = deferred<CallContext>();
      await start(
        implementation({
          wait: (_req, ctx) => {
            called.resolve(ctx); // does not touch ctx.signal
            return new Promise(() => undefined);
          },
        }),
      );
      const p = peer();
      p.write(requestFrame(1, SVC, 'Wait'));
      const ctx = await called.promise;
      p.destroy();
      await waitFor(() => server.connectionCount === 0);
      assert.equal(ctx.signal.aborted, true);
      assert.equal((ctx.signal.reason as { code?: string }).code, 'TTRPC_ERR_CLOSED');
      assert.equal(ctx.signal, ctx.signal, 'one signal per call');
    });
  });

  describe('stream ids', () => {
    beforeEach(() => start());

    it('an even id → INVALID_ARGUMENT on that id; the connection keeps serving', async () => {
      const p = peer();
      p.write(requestFrame(2, SVC, 'Echo'));
      const first = await p.nextResponse();
      assert.equal(first.streamId, 2);
      assert.deepEqual(first.response.status, status(Code.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams'));
      p.write(requestFrame(1, SVC, 'State'));
      assert.equal((await p.nextResponse()).streamId, 1);
    });

    it('an id reused while its call is in flight closes the connection (and only it)', async () => {
      const p = peer();
      p.write(requestFrame(1, SVC, 'Wait'));
      await delay(20);
      p.write(requestFrame(1, SVC, 'State'));
      await p.waitClosed();
      assert.equal(p.frames.length, 0);
      await assertServing();
    });

    it('a decreasing id closes the connection', async () => {
      const p = peer();
      p.write(requestFrame(7, SVC, 'State'));
      await p.nextResponse();
      p.write(requestFrame(5, SVC, 'State'));
      await p.waitClosed();
      assert.equal(p.frames.length, 1);
      await assertServing();
    });

    it('ids may skip (strictly increasing is enough)', async () => {
      const p = peer();
      p.write(requestFrame(1, SVC, 'State'));
      p.write(requestFrame(101, SVC, 'State'));
      p.write(requestFrame(0xffffffff, SVC, 'State'));
      assert.deepEqual(
        (await p.waitFrames(3)).map((f) => f.header.streamId),
        [1, 101, 0xffffffff],
      );
    });
  });

  describe('frames we do not serve', () => {
    beforeEach(() => start());

    it('a request with streaming flags → UNIMPLEMENTED; the connection keeps serving', async () => {
      const p = peer();
      p.write(requestFrame(1, SVC, 'Echo', undefined, { flags: 0x02 }));
      p.write(requestFrame(3, SVC, 'Echo', undefined, { flags: 0x01 }));
      for (const id of [1, 3]) {
        const { streamId, response } = await p.nextResponse();
        assert.equal(streamId, id);
        assert.equal(response.status?.code, Code.UNIMPLEMENTED);
        assert.match(response.status?.message ?? '', /streaming is not supported/);
      }
      p.write(requestFrame(5, SVC, 'State'));
      assert.equal((await p.nextResponse()).streamId, 5);
    });

    it('data frames, response frames and unknown types are skipped without a reply', async () => {
      const p = peer();
      p.write(encodeFrame(1, FrameType.Data, bytes('0a0141'), 0x01));
      p.write(encodeFrame(1, FrameType.Data, new Uint8Array(0), 0x05));
      p.write(encodeFrame(3, FrameType.Response, bytes('1201ff')));
      p.write(encodeFrame(5, 0x09, Buffer.alloc(1000, 7), 0xff));
      p.write(encodeFrame(4, 0x00, bytes('00')));
      p.write(requestFrame(7, SVC, 'State'));
      const { streamId } = await p.nextResponse();
      assert.equal(streamId, 7);
      await delay(20);
      assert.equal(p.frames.length, 1);
    });
  });

  describe('oversized, truncated and garbage input', () => {
    beforeEach(() => start());

    it('a header announcing 0xFFFFFFFF bytes is answered RESOURCE_EXHAUSTED at once, before any data', async () => {
      const p = peer();
      p.write(encodeHeader({ length: 0xffffffff, streamId: 9, type: FrameType.Request, flags: 0 }));
      const { streamId, response } = await p.nextResponse();
      assert.equal(streamId, 9);
      assert.deepEqual(response.status, status(Code.RESOURCE_EXHAUSTED, 'message length 4294967295 exceed maximum message size of 4194304'));
      // The server counts the announced bytes down; it neither stalls nor stores them.
      const junk = Buffer.alloc(1 << 20, 0xee);
      for (let i = 0; i < 16; i++) p.write(junk);
      await assertServing();
      await delay(20);
      assert.equal(p.isClosed, false);
      assert.equal(p.frames.length, 1);
    });

    it('after the data of an oversized frame the same connection answers the next request', async () => {
      const p = peer();
      const length = MAX_MESSAGE_LENGTH + 1;
      p.write(encodeHeader({ length, streamId: 1, type: FrameType.Request, flags: 0 }));
      assert.equal((await p.nextResponse()).response.status?.code, Code.RESOURCE_EXHAUSTED);
      p.write(Buffer.alloc(length, 0x0a));
      p.write(requestFrame(3, SVC, 'Echo', TextCodec.encode({ text: 'after' })));
      const { streamId, response } = await p.nextResponse();
      assert.equal(streamId, 3);
      assert.deepEqual(TextCodec.decode(response.payload), { text: 'after' });
    });

    it('a truncated frame then EOF: the connection is closed cleanly, nothing sent', async () => {
      const p = peer();
      p.write(requestFrame(1, SVC, 'State').subarray(0, 17));
      p.socket.end();
      await p.waitClosed();
      assert.equal(p.received, 0);
      await waitFor(() => server.connectionCount === 0);
      await assertServing();
    });

    it('garbage with a non-increasing stream id closes that connection; others are served', async () => {
      const other = peer();
      other.write(requestFrame(1, SVC, 'Wait'));
      const p = peer();
      const garbage = encodeFrame(0x41414141, FrameType.Request, bytes('41414141'));
      p.write(Buffer.concat([garbage, garbage]));
      await p.waitClosed();
      assert.equal(p.frames.length, 1); // INVALID_ARGUMENT for the first (undecodable envelope), then closed
      await assertServing();
      assert.equal(other.isClosed, false);
    });

    it('random garbage then EOF: that connection is closed, the server still serves', async () => {
      const p = peer();
      let seed = 42;
      const garbage = Buffer.alloc(4096);
      for (let i = 0; i < garbage.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        garbage[i] = seed & 0xff;
      }
      p.write(garbage);
      p.socket.end();
      await p.waitClosed();
      await assertServing();
    });
  });

  describe('concurrency', () => {
    it('answers 1000 concurrent calls on one connection; a blocked Wait does not hold up State', async () => {
      const release = deferred();
      await start(
        implementation({
          wait: async (req) => {
            await release.promise;
            return { text: `waited ${req.text}` };
          },
          state: async (req) => {
            await delay(Number(req.n ?? 0n) % 5);
            return { text: `state ${req.text}` };
          },
        }),
      );
      const client = await Client.connect(path);
      try {
        const stub = client.service(TestService);
        const wait = stub.wait({ text: 'w' });
        const calls = Array.from({ length: 1000 }, (_, i) => stub.state({ text: String(i), n: BigInt(i) }));
        const results = await Promise.all(calls);
        results.forEach((r, i) => assert.equal(r.text, `state ${i}`));
        assert.equal(client.pendingCalls, 1);
        release.resolve();
        assert.deepEqual(await wait, { text: 'waited w' });
      } finally {
        await client.close();
      }
    });
  });
});
