/**
 * A raw-bytes ttrpc peer for hostile-input tests against a real shim (undici-style hand-written
 * peers, STYLE B.13): it writes whatever bytes it is given, parses whatever frames come back by
 * itself (no FrameReader of ours in the path), and reports when the server closed the connection.
 */
import * as net from 'node:net';
import { FrameType, HEADER_LENGTH, decodeHeader, decodeResponse, encodeFrame, encodeRequest, type FrameHeader, type StatusMessage } from 'ttrpc-ts';
import { task } from '../../proto';

export const TASK_SERVICE = 'containerd.task.v2.Task';

/** A bare 10-byte frame header (length u32 BE, stream id u32 BE, type, flags), whatever its values. */
export function encodeHeader(h: FrameHeader): Buffer {
  const b = Buffer.alloc(HEADER_LENGTH);
  b.writeUInt32BE(h.length >>> 0, 0);
  b.writeUInt32BE(h.streamId >>> 0, 4);
  b[8] = h.type & 0xff;
  b[9] = h.flags & 0xff;
  return b;
}

/** One whole request frame (header + ttrpc.Request) for `service/method` with an encoded payload. */
export function requestFrame(streamId: number, service: string, method: string, payload: Uint8Array, options: { timeoutNano?: bigint; flags?: number; type?: number } = {}): Buffer {
  const data = encodeRequest({ service, method, payload, timeoutNano: options.timeoutNano ?? 0n, metadata: [] });
  return encodeFrame(streamId, options.type ?? FrameType.Request, data, options.flags ?? 0);
}

/** A well-formed Task State request frame for container `id`. */
export function stateFrame(streamId: number, id: string): Buffer {
  return requestFrame(streamId, TASK_SERVICE, 'State', task.StateRequest.encode({ id, execId: '' }).finish());
}

/** A response frame as received. */
export interface RawResponse {
  header: FrameHeader;
  status: StatusMessage | undefined;
  payload: Uint8Array;
}

/** A raw connection: write bytes, read frames back. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: RawResponse[] = [];
  /** Frames whose data could not be decoded as a ttrpc.Response (should never happen). */
  readonly undecodable: FrameHeader[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  private readonly connectedPromise: Promise<void>;

  constructor(path: string) {
    this.socket = net.createConnection({ path });
    this.connectedPromise = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.connectedPromise.catch(() => undefined); // reported to whoever awaits connected()
    this.socket.on('error', () => undefined); // EPIPE/ECONNRESET after the server hung up: that is the point
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closedPromise = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
  }

  /** Resolves once connected (rejects with the connect error). */
  connected(): Promise<void> {
    return this.connectedPromise;
  }

  /** True once the socket closed (the server hung up, or we destroyed it). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Writes bytes as they are; false when the socket is gone. */
  write(bytes: Uint8Array): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(bytes);
    return true;
  }

  /** Writes bytes and resolves once they were handed to the kernel (or the socket failed). */
  writeFlushed(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) {
        resolve();
        return;
      }
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Resolves with the response for `streamId` (rejects after `timeoutMs`, or if the connection closes first). */
  async response(streamId: number, timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((f) => f.header.streamId === streamId);
      if (found) return found;
      if (this.isClosed) throw new Error(`connection closed before the response to stream ${streamId} (got ${this.frames.length} frames)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response to stream ${streamId} within ${timeoutMs} ms`);
      await this.nextEvent(left);
    }
  }

  /** Resolves once the server closed the connection (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Half-closes our side (EOF to the server). */
  end(): void {
    this.socket.end();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= HEADER_LENGTH) {
      const header = decodeHeader(this.buffer);
      if (this.buffer.length < HEADER_LENGTH + header.length) break;
      const data = this.buffer.subarray(HEADER_LENGTH, HEADER_LENGTH + header.length);
      this.buffer = this.buffer.subarray(HEADER_LENGTH + header.length);
      try {
        const response = decodeResponse(data);
        this.frames.push({ header, status: response.status, payload: Buffer.from(response.payload) });
      } catch {
        this.undecodable.push(header);
      }
    }
    this.wake();
  }
}

/** Connects a RawPeer and waits for the connection. */
export async function rawConnect(path: string): Promise<RawPeer> {
  const peer = new RawPeer(path);
  await peer.connected();
  return peer;
}

/** mulberry32: a tiny seeded PRNG, so a failing fuzz run replays with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
