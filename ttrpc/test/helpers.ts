/**
 * Test helpers: temporary socket dirs, hand-written message codecs, a raw-bytes socket peer (undici style),
 * and a small test service.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRequest, decodeResponse, type KeyValue, type ResponseEnvelope } from '../codec';
import { FrameType, encodeFrame, type Frame } from '../frame';
import { FrameReader } from '../frame-reader';
import type { Codec, ServiceDefinition } from '../service';
import { ProtoReader, ProtoWriter, WireType } from '../wire';

// Real timers and clock, captured at load so that sinon fake timers do not affect the helpers.
const realSetTimeout = setTimeout;
const realClearTimeout = clearTimeout;
const now = Date.now.bind(Date);

/** Bytes from hex fragments and quoted text: `bytes('0a03', 'rx1')` — strings that are not pure hex are text. */
export function bytes(...parts: (string | Uint8Array)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p !== 'string') return Buffer.from(p);
      const compact = p.replace(/\s+/g, '');
      return /^([0-9a-f]{2})*$/i.test(compact) && compact.length > 0 ? Buffer.from(compact, 'hex') : Buffer.from(p, 'utf8');
    }),
  );
}

/** Text in `bytes(...)` that happens to look like hex. */
export function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** A per-suite temporary directory for sockets; `cleanup()` removes it. */
export class TempDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-test-'));
  private n = 0;

  /** A fresh socket path inside the directory. */
  socketPath(): string {
    return path.join(this.dir, `s${this.n++}.sock`);
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `message Text { string text = 1; int64 n = 2; }`, encoded by hand. */
export interface Text {
  text: string;
  n?: bigint;
}

export const TextCodec: Codec<Text> = {
  encode(value) {
    const w = new ProtoWriter();
    if (value.text !== '') w.string(1, value.text);
    if (value.n !== undefined && value.n !== 0n) w.int64(2, value.n);
    return w.finish();
  },
  decode(b) {
    const out: Text = { text: '' };
    const r = new ProtoReader(b);
    while (!r.done) {
      const { field, wireType } = r.key();
      if (field === 1 && wireType === WireType.LengthDelimited) out.text = r.string();
      else if (field === 2 && wireType === WireType.Varint) out.n = r.int64();
      else r.skip(wireType, field);
    }
    return out;
  },
};

/** `google.protobuf.Empty`: zero bytes; decoding checks the bytes are well-formed. */
export const EmptyCodec: Codec<Record<string, never>> = {
  encode: () => new Uint8Array(0),
  decode(b) {
    const r = new ProtoReader(b);
    while (!r.done) {
      const { field, wireType } = r.key();
      r.skip(wireType, field);
    }
    return {};
  },
};

/** A test service shaped like the task service's interesting parts. */
export const TestService = {
  name: 'test.v1.Test',
  methods: {
    echo: { name: 'Echo', requestType: TextCodec, responseType: TextCodec },
    wait: { name: 'Wait', requestType: TextCodec, responseType: TextCodec },
    state: { name: 'State', requestType: TextCodec, responseType: TextCodec },
    empty: { name: 'Empty', requestType: EmptyCodec, responseType: EmptyCodec },
  },
} satisfies ServiceDefinition;

/** Encoded request frame of a unary call. */
export function requestFrame(
  streamId: number,
  service: string,
  method: string,
  payload: Uint8Array = new Uint8Array(0),
  extra: { timeoutNano?: bigint; metadata?: KeyValue[]; flags?: number } = {},
): Buffer {
  const data = encodeRequest({ service, method, payload, timeoutNano: extra.timeoutNano ?? 0n, metadata: extra.metadata ?? [] });
  return encodeFrame(streamId, FrameType.Request, data, extra.flags ?? 0);
}

/** A client that speaks raw bytes and collects raw frames. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  received = 0;
  private readonly chunks: Buffer[] = [];
  private readonly reader = new FrameReader(0xffffffff);
  private consumed = 0;
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  readonly connected: Promise<void>;

  constructor(socketPath: string) {
    this.socket = net.createConnection({ path: socketPath });
    this.socket.on('error', () => undefined);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.chunks.push(chunk);
      for (const ev of this.reader.push(chunk)) {
        if (ev.kind === 'frame') this.frames.push({ header: ev.header, payload: Buffer.from(ev.payload) });
      }
      this.wake();
    });
    this.socket.on('close', () => this.wake());
  }

  /** Every byte received so far. */
  get rawBytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  write(data: Uint8Array): void {
    this.socket.write(data);
  }

  /** Waits until `n` frames have arrived in total; rejects if the socket closes first or after `ms`. */
  async waitFrames(n: number, ms = 5000): Promise<Frame[]> {
    const deadline = now() + ms;
    while (this.frames.length < n) {
      if (this.socket.destroyed) throw new Error(`socket closed after ${this.frames.length} of ${n} frames`);
      if (now() > deadline) throw new Error(`timed out after ${this.frames.length} of ${n} frames`);
      await this.nextEvent(Math.max(1, deadline - now()));
    }
    return this.frames.slice(0, n);
  }

  /** Waits for the next frame after those already seen, and decodes it as a response. */
  async nextResponse(ms = 5000): Promise<{ streamId: number; response: ResponseEnvelope; frame: Frame }> {
    const index = this.consumed++;
    const frames = await this.waitFrames(index + 1, ms);
    const frame = frames[index] as Frame;
    return { streamId: frame.header.streamId, response: decodeResponse(frame.payload), frame };
  }

  /** Resolves when the socket closes; rejects after `ms`. */
  async waitClosed(ms = 5000): Promise<void> {
    await Promise.race([this.closed, delay(ms).then(() => Promise.reject(new Error('socket did not close')))]);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = realSetTimeout(resolve, ms);
      this.waiters.push(() => {
        realClearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A promise resolved after `ms` of real time. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `cond` with real timers until true; rejects after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = now() + ms;
  while (!cond()) {
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}
