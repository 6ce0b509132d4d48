/**
 * Fuzz-ish tests (seeded, so failures replay): thousands of random and mutated frames against a live server,
 * which must never crash and must keep answering well-formed requests on fresh connections; and random bytes
 * through the envelope decoders, which may only ever throw DecodeError.
 */
import * as assert from 'node:assert/strict';
import { decodeRequest, decodeResponse, encodeResponse } from '../codec';
import { DecodeError } from '../errors';
import { FrameType, encodeFrame, encodeHeader } from '../frame';
import { Server } from '../server';
import { RawPeer, TempDir, TestService, TextCodec, delay, requestFrame, waitFor } from './helpers';

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function mutate(rand: () => number, input: Buffer): Buffer {
  const b = Buffer.from(input);
  const pick = rand();
  if (pick < 0.4) {
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(rand() * b.length);
      b[at] = (b[at] as number) ^ (1 << Math.floor(rand() * 8));
    }
    return b;
  }
  if (pick < 0.6) return b.subarray(0, Math.floor(rand() * b.length));
  if (pick < 0.8) {
    const at = Math.floor(rand() * b.length);
    return Buffer.concat([b.subarray(0, at), randomBytes(rand, 1 + Math.floor(rand() * 16)), b.subarray(at)]);
  }
  return Buffer.concat([b, b.subarray(Math.floor(rand() * b.length))]);
}

describe('fuzz', () => {
  const tmp = new TempDir();
  after(() => tmp.cleanup());

  it('thousands of random and mutated frames never crash the server; fresh connections keep being served', async function () {
    this.timeout(60000);
    const rand = prng(0x7757);
    const socketPath = tmp.socketPath();
    const server = new Server().register(TestService, {
      echo: (req) => Promise.resolve({ text: req.text }),
      wait: async (req) => {
        await delay(Number((req.n ?? 0n) & 7n));
        return { text: 'waited' };
      },
      state: (req) => (req.text === 'throw' ? Promise.reject(new Error('boom')) : Promise.resolve({ text: 'state' })),
      empty: () => Promise.resolve({}),
    });
    await server.listen({ path: socketPath });
    const methods = ['Echo', 'Wait', 'State', 'Empty', 'Nope'];

    let frames = 0;
    let responses = 0;
    try {
      for (let conn = 0; conn < 40; conn++) {
        const peer = new RawPeer(socketPath);
        const parts: Buffer[] = [];
        const chaos = rand() < 0.3;
        let id = 1;
        for (let i = 0; i < 100; i++, frames++) {
          const valid = requestFrame(
            id,
            rand() < 0.9 ? TestService.name : 'x.Other',
            methods[Math.floor(rand() * methods.length)] as string,
            TextCodec.encode({ text: rand() < 0.1 ? 'throw' : 'f', n: BigInt(Math.floor(rand() * 1000)) }),
            { timeoutNano: rand() < 0.2 ? BigInt(Math.floor(rand() * 1e7)) : 0n },
          );
          const streamId = id;
          id += 2 * (1 + Math.floor(rand() * 3));
          const kind = rand();
          if (!chaos) {
            // Framing intact, ids increasing: everything but the frame contents is well-formed.
            if (kind < 0.4) parts.push(valid);
            else if (kind < 0.7) parts.push(encodeFrame(streamId, FrameType.Request, mutate(rand, valid.subarray(10))));
            else if (kind < 0.85) parts.push(encodeFrame(streamId, Math.floor(rand() * 256), randomBytes(rand, Math.floor(rand() * 64)), Math.floor(rand() * 256)));
            else if (kind < 0.92) parts.push(encodeFrame(streamId, FrameType.Request, valid.subarray(10), 1 + Math.floor(rand() * 255)));
            else parts.push(encodeFrame(streamId + 1, FrameType.Request, valid.subarray(10)));
          } else if (kind < 0.35) parts.push(valid);
          else if (kind < 0.75) parts.push(mutate(rand, valid));
          else if (kind < 0.9) {
            const n = Math.floor(rand() * 64);
            parts.push(encodeHeader({ length: n, streamId: Math.floor(rand() * 2 ** 32), type: Math.floor(rand() * 256), flags: Math.floor(rand() * 256) }), randomBytes(rand, n));
          } else if (kind < 0.95) parts.push(encodeFrame(id, FrameType.Request, randomBytes(rand, Math.floor(rand() * 200))));
          else parts.push(randomBytes(rand, Math.floor(rand() * 64)));
        }
        // Write in random-sized chunks, then EOF: whatever state the connection is in, it must end.
        const all = Buffer.concat(parts);
        for (let at = 0; at < all.length; ) {
          const n = 1 + Math.floor(rand() * 512);
          peer.write(all.subarray(at, at + n));
          at += n;
        }
        peer.socket.end();
        await peer.waitClosed(10000);
        responses += peer.frames.length;
        if (conn % 10 === 9) {
          const check = new RawPeer(socketPath);
          check.write(requestFrame(1, TestService.name, 'Echo', TextCodec.encode({ text: `alive ${conn}` })));
          const { response } = await check.nextResponse();
          assert.deepEqual(TextCodec.decode(response.payload), { text: `alive ${conn}` });
          check.destroy();
        }
      }
      assert.equal(frames, 4000);
      assert.ok(responses > 1500, `only ${responses} responses: the fuzzer is not reaching the dispatcher`);
      await waitFor(() => server.connectionCount === 0, 5000, 'every fuzzed connection closed');
    } finally {
      await server.close();
    }
  });

  it('the envelope decoders only ever throw DecodeError on random and mutated input', () => {
    const rand = prng(0xdec0de);
    const seeds = [
      requestFrame(1, TestService.name, 'Echo', TextCodec.encode({ text: 'hello' }), { timeoutNano: -5n, metadata: [{ key: 'k', value: 'v' }] }).subarray(10),
      encodeResponse({ status: { code: 5, message: 'not found', details: [{ typeUrl: 't', value: Buffer.from('v') }] }, payload: Buffer.from('p') }),
    ];
    let rejected = 0;
    for (let i = 0; i < 20000; i++) {
      const input = i % 2 === 0 ? randomBytes(rand, Math.floor(rand() * 48)) : mutate(rand, seeds[i % 4 === 1 ? 0 : 1] as Buffer);
      for (const decode of [decodeRequest, decodeResponse]) {
        try {
          decode(input);
        } catch (err) {
          assert.ok(err instanceof DecodeError, `unexpected ${String(err)} for ${input.toString('hex')}`);
          rejected++;
        }
      }
    }
    assert.ok(rejected > 1000, 'the fuzzer does produce malformed input');
  });
});
