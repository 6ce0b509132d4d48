/**
 * Framing: header codec, the incremental reader under every chunk split, oversize frames skipped without
 * buffering, and the writer's serialisation and backpressure.
 */
import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { OversizedMessageError } from '../errors';
import { FrameType, MAX_MESSAGE_LENGTH, decodeHeader, encodeFrame, encodeHeader } from '../frame';
import { FrameReader, type ReadEvent } from '../frame-reader';
import { FrameWriter, type FrameSink } from '../frame-writer';
import { bytes } from './helpers';

type Simple = { kind: string; id: number; type: number; flags: number; length: number; payload?: string };

function simplify(events: ReadEvent[]): Simple[] {
  return events.map((e) => {
    const { streamId: id, type, flags, length } = e.header;
    return e.kind === 'frame' ? { kind: e.kind, id, type, flags, length, payload: e.payload.toString('hex') } : { kind: e.kind, id, type, flags, length };
  });
}

function feed(reader: FrameReader, chunks: Buffer[]): Simple[] {
  return chunks.flatMap((c) => simplify(reader.push(c)));
}

describe('frame header', () => {
  it('encodes and decodes big-endian fields', () => {
    const h = { length: 0x01020304, streamId: 0xfffffffe, type: 3, flags: 5 };
    const b = encodeHeader(h);
    assert.deepEqual(b, bytes('01020304 fffffffe 03 05'));
    assert.deepEqual(decodeHeader(b), h);
  });

  it('refuses to build a frame over the 4 MiB cap', () => {
    assert.throws(() => encodeFrame(1, FrameType.Request, new Uint8Array(MAX_MESSAGE_LENGTH + 1)), OversizedMessageError);
    assert.equal(encodeFrame(1, FrameType.Request, new Uint8Array(MAX_MESSAGE_LENGTH)).length, MAX_MESSAGE_LENGTH + 10);
  });
});

describe('FrameReader', () => {
  // Several frames: zero-length, tiny, multi-byte, unknown type with flags, a data frame.
  const stream = Buffer.concat([
    encodeFrame(1, FrameType.Request, bytes('0a01', 'x')),
    encodeFrame(3, FrameType.Response, new Uint8Array(0)),
    encodeFrame(5, FrameType.Request, Buffer.alloc(300, 0xab)),
    encodeFrame(7, 0x7f, bytes('01020304'), 0x06),
    encodeFrame(9, FrameType.Data, bytes('ff'), 0x01),
  ]);
  const expected = feed(new FrameReader(), [stream]);

  it('decodes a stream of several frames in one chunk', () => {
    assert.deepEqual(
      expected.map((f) => [f.id, f.type, f.flags, f.length]),
      [
        [1, 1, 0, 3],
        [3, 2, 0, 0],
        [5, 1, 0, 300],
        [7, 0x7f, 6, 4],
        [9, 3, 1, 1],
      ],
    );
  });

  it('gives the same frames for every split point into two chunks', () => {
    for (let i = 0; i <= stream.length; i++) {
      const reader = new FrameReader();
      assert.deepEqual(feed(reader, [stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
      assert.ok(reader.atFrameBoundary);
    }
  });

  it('gives the same frames for every pair of split points into three chunks', () => {
    const small = stream.subarray(0, 40); // the first two frames and part of the third: keeps this O(n²) cheap
    const want = feed(new FrameReader(), [small]);
    for (let i = 0; i <= small.length; i++) {
      for (let j = i; j <= small.length; j++) {
        assert.deepEqual(feed(new FrameReader(), [small.subarray(0, i), small.subarray(i, j), small.subarray(j)]), want, `splits ${i},${j}`);
      }
    }
  });

  it('gives the same frames byte by byte', () => {
    const chunks = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(feed(new FrameReader(), chunks), expected);
  });

  it('reports a frame cut short as not at a frame boundary', () => {
    const reader = new FrameReader();
    reader.push(stream.subarray(0, 5));
    assert.equal(reader.atFrameBoundary, false);
    reader.push(stream.subarray(5, 13));
    assert.equal(reader.atFrameBoundary, true); // the first frame is whole
    reader.push(stream.subarray(13, 15));
    assert.equal(reader.atFrameBoundary, false);
  });

  it('announces a 0xFFFFFFFF-byte frame at once and skips its data without holding any of it', () => {
    const reader = new FrameReader();
    const events = feed(reader, [bytes('ffffffff 00000003 01 00')]);
    assert.deepEqual(events, [{ kind: 'oversize', id: 3, type: 1, flags: 0, length: 0xffffffff }]);
    const junk = Buffer.alloc(1 << 20, 0x5a);
    let skipped = 0;
    for (let i = 0; i < 64; i++) {
      assert.deepEqual(reader.push(junk), []);
      skipped += junk.length;
      assert.equal(reader.bufferedBytes, 0);
      assert.equal(reader.discardingBytes, 0xffffffff - skipped);
    }
  });

  it('resumes framing right after the skipped data of an oversized frame', () => {
    const length = MAX_MESSAGE_LENGTH + 1;
    const header = encodeHeader({ length, streamId: 1, type: 1, flags: 0 });
    const next = encodeFrame(3, FrameType.Request, bytes('aa'));
    const reader = new FrameReader();
    const out: Simple[] = [];
    out.push(...simplify(reader.push(header)));
    let left = length;
    while (left > 0) {
      const n = Math.min(left, 65536);
      out.push(...simplify(reader.push(Buffer.alloc(n))));
      assert.ok(reader.bufferedBytes <= 10);
      left -= n;
    }
    out.push(...simplify(reader.push(next)));
    assert.deepEqual(out, [
      { kind: 'oversize', id: 1, type: 1, flags: 0, length },
      { kind: 'frame', id: 3, type: 1, flags: 0, length: 1, payload: 'aa' },
    ]);
  });

  it('accepts a frame of exactly 4 MiB', () => {
    const frame = encodeFrame(1, FrameType.Request, Buffer.alloc(MAX_MESSAGE_LENGTH, 1));
    const reader = new FrameReader();
    const events = [...reader.push(frame.subarray(0, 1000)), ...reader.push(frame.subarray(1000))];
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, 'frame');
  });
});

/** A socket stand-in whose write() reports backpressure on demand. */
class FakeSink extends EventEmitter {
  written: Buffer[] = [];
  full = false;
  destroyed = false;
  writable = true;
  ended = false;
  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return !this.full;
  }
  end(): this {
    this.ended = true;
    return this;
  }
}

describe('FrameWriter', () => {
  it('writes each frame as one buffer (header and data together), in order', () => {
    const sink = new FakeSink();
    const writer = new FrameWriter(sink as unknown as FrameSink);
    writer.send(1, FrameType.Response, bytes('0801'));
    writer.send(3, FrameType.Response, new Uint8Array(0));
    assert.deepEqual(sink.written, [bytes('00000002 00000001 02 00 0801'), bytes('00000000 00000003 02 00')]);
  });

  it('queues frames while the socket is full and writes them on drain, reporting backpressure', () => {
    const sink = new FakeSink();
    const states: boolean[] = [];
    const writer = new FrameWriter(sink as unknown as FrameSink, (blocked) => states.push(blocked));
    sink.full = true;
    writer.send(1, FrameType.Response, bytes('01'));
    writer.send(3, FrameType.Response, bytes('02'));
    writer.send(5, FrameType.Response, bytes('03'));
    assert.equal(sink.written.length, 1);
    assert.equal(writer.queuedBytes, 22);
    assert.deepEqual(states, [true]);
    sink.full = false;
    sink.emit('drain');
    assert.deepEqual(
      sink.written.map((b) => b.readUInt32BE(4)),
      [1, 3, 5],
    );
    assert.equal(writer.queuedBytes, 0);
    assert.deepEqual(states, [true, false]);
  });

  it('end() flushes the queue first, then ends the socket; later frames are dropped', () => {
    const sink = new FakeSink();
    const writer = new FrameWriter(sink as unknown as FrameSink);
    sink.full = true;
    writer.send(1, FrameType.Response, bytes('01'));
    writer.send(3, FrameType.Response, bytes('02'));
    writer.end();
    writer.send(5, FrameType.Response, bytes('03'));
    assert.equal(sink.ended, false);
    sink.full = false;
    sink.emit('drain');
    assert.equal(sink.ended, true);
    assert.deepEqual(
      sink.written.map((b) => b.readUInt32BE(4)),
      [1, 3],
    );
  });

  it('drops frames once closed, and for a destroyed socket', () => {
    const sink = new FakeSink();
    const writer = new FrameWriter(sink as unknown as FrameSink);
    sink.destroyed = true;
    writer.send(1, FrameType.Response, bytes('01'));
    writer.close();
    writer.send(3, FrameType.Response, bytes('01'));
    assert.deepEqual(sink.written, []);
  });

  it('throws OversizedMessageError and writes nothing for data over the cap', () => {
    const sink = new FakeSink();
    const writer = new FrameWriter(sink as unknown as FrameSink);
    assert.throws(() => writer.send(1, FrameType.Response, new Uint8Array(MAX_MESSAGE_LENGTH + 1)), { code: 'TTRPC_ERR_OVERSIZED_MESSAGE' });
    assert.deepEqual(sink.written, []);
  });
});
