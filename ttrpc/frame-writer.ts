/**
 * The single serialised writer of one connection. Every frame leaving a socket goes through here, as one
 * buffer (header and data together), so no interleaving point can ever fall between a header and its data.
 *
 * The writer owns backpressure: when the socket reports a full buffer (`write` returned false) further frames
 * wait in order in the writer's queue until 'drain'. The owner can watch that through `onBackpressure`
 * (the server stops reading requests from a peer that does not read its responses). Frames for a socket that
 * is gone are dropped silently: the connection's close handling reports the loss, not the writer.
 */
import type * as net from 'node:net';
import { encodeFrame } from './frame';

/** Where frames are written: the part of net.Socket the writer uses. */
export type FrameSink = Pick<net.Socket, 'write' | 'end' | 'on' | 'off' | 'destroyed' | 'writable'>;

/** Serialises frames onto one socket, in call order, with backpressure. */
export class FrameWriter {
  private queue: Buffer[] = [];
  private head = 0;
  private queued = 0;
  private blocked = false;
  private closed = false;
  private ending = false;
  private readonly onDrain = (): void => this.flush();

  /**
   * @param sink the connection's socket
   * @param onBackpressure called with true when frames start waiting for 'drain', false once they are all written
   */
  constructor(
    private readonly sink: FrameSink,
    private readonly onBackpressure?: (blocked: boolean) => void,
  ) {
    sink.on('drain', this.onDrain);
  }

  /** Bytes waiting in the writer's queue (not yet handed to the socket). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** True while frames wait for the socket to drain. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Queues one frame. Throws OversizedMessageError (nothing written) when the data exceeds the 4 MiB cap:
   * callers check sizes first and turn that into a status; this is the last guard.
   */
  send(streamId: number, type: number, payload: Uint8Array, flags = 0): void {
    const frame = encodeFrame(streamId, type, payload, flags);
    if (this.closed || this.ending) return;
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.blocked) this.flush();
  }

  /**
   * Graceful end: writes what is queued, then ends the socket's writable side. Frames sent afterwards are
   * dropped. Idempotent.
   */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (!this.blocked) this.flush();
  }

  /** Drops whatever is queued and stops writing (the connection is going away). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.off('drain', this.onDrain);
    this.queue = [];
    this.head = 0;
    this.queued = 0;
  }

  private flush(): void {
    if (this.closed) return;
    if (this.sink.destroyed || !this.sink.writable) {
      this.close();
      return;
    }
    const wasBlocked = this.blocked;
    this.blocked = false;
    while (this.head < this.queue.length) {
      const frame = this.queue[this.head] as Buffer;
      this.head++;
      this.queued -= frame.length;
      if (!this.sink.write(frame)) {
        this.blocked = true;
        break;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      if (this.ending) {
        this.close();
        this.sink.end();
        return;
      }
    }
    if (this.blocked !== wasBlocked) this.onBackpressure?.(this.blocked);
  }
}
