/**
 * Incremental frame decoder: socket chunks in, whole frames out, as an explicit state machine.
 *
 *   header  ── 10 bytes gathered ──▶ payload   (length ≤ max, > 0)
 *           ── length 0 ───────────▶ header    (frame emitted at once)
 *           ── length > max ───────▶ discard   ('oversize' emitted at once, before any data arrives)
 *   payload ── length bytes ───────▶ header    (frame emitted)
 *   discard ── length bytes ───────▶ header    (bytes counted down, never stored)
 *
 * Chunks may split frames anywhere and may hold many frames. The reader holds at most one header (10 bytes)
 * plus the data of one frame no larger than the cap; an oversized frame, even one announcing 4 GiB, costs
 * nothing but a counter. The reader knows nothing about streams or connections: what to do with an oversized
 * frame, an unknown type or a bad stream id is the caller's decision.
 */
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH, decodeHeader, type FrameHeader } from './frame';

/** What one chunk produced: whole frames, and headers of frames too large to accept (their data is skipped). */
export type ReadEvent =
  | { readonly kind: 'frame'; readonly header: FrameHeader; readonly payload: Buffer }
  | { readonly kind: 'oversize'; readonly header: FrameHeader };

type ReadState = 'header' | 'payload' | 'discard';

const EMPTY = Buffer.alloc(0);

/** Turns a byte stream into frames; feed it with `push`. */
export class FrameReader {
  private state: ReadState = 'header';
  private readonly headerBuf = Buffer.alloc(HEADER_LENGTH);
  private headerFill = 0;
  /** Header of the frame whose data is being gathered (state 'payload'). */
  private current: FrameHeader | undefined;
  private chunks: Buffer[] = [];
  private payloadFill = 0;
  /** Bytes of an oversized frame still to skip (state 'discard'). */
  private discardLeft = 0;

  constructor(private readonly maxLength: number = MAX_MESSAGE_LENGTH) {}

  /** Bytes currently held (a partial header plus the partial data of one acceptable frame). */
  get bufferedBytes(): number {
    return this.headerFill + this.payloadFill;
  }

  /** Bytes of an oversized frame still to be skipped. */
  get discardingBytes(): number {
    return this.discardLeft;
  }

  /** True between frames: an end of stream here is clean, anywhere else it truncates a frame. */
  get atFrameBoundary(): boolean {
    return this.state === 'header' && this.headerFill === 0;
  }

  /** Consumes one chunk; returns the events it completed, in stream order. */
  push(chunk: Buffer): ReadEvent[] {
    const events: ReadEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'header':
          pos = this.readHeader(chunk, pos, events);
          break;
        case 'payload':
          pos = this.readPayload(chunk, pos, events);
          break;
        case 'discard':
          pos = this.skipDiscarded(chunk, pos);
          break;
      }
    }
    return events;
  }

  private readHeader(chunk: Buffer, pos: number, events: ReadEvent[]): number {
    let header: FrameHeader;
    if (this.headerFill === 0 && chunk.length - pos >= HEADER_LENGTH) {
      header = decodeHeader(chunk, pos);
      pos += HEADER_LENGTH;
    } else {
      const n = Math.min(HEADER_LENGTH - this.headerFill, chunk.length - pos);
      chunk.copy(this.headerBuf, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill < HEADER_LENGTH) return pos;
      this.headerFill = 0;
      header = decodeHeader(this.headerBuf);
    }

    if (header.length > this.maxLength) {
      events.push({ kind: 'oversize', header });
      this.state = 'discard';
      this.discardLeft = header.length;
    } else if (header.length === 0) {
      events.push({ kind: 'frame', header, payload: EMPTY });
    } else {
      this.state = 'payload';
      this.current = header;
    }
    return pos;
  }

  private readPayload(chunk: Buffer, pos: number, events: ReadEvent[]): number {
    const header = this.current as FrameHeader;
    const need = header.length - this.payloadFill;
    const n = Math.min(need, chunk.length - pos);
    const piece = chunk.subarray(pos, pos + n);
    pos += n;
    if (n === need && this.chunks.length === 0) {
      // The whole data is in this chunk: hand out a view, no copy.
      events.push({ kind: 'frame', header, payload: piece });
      this.finishFrame();
      return pos;
    }
    this.chunks.push(piece);
    this.payloadFill += n;
    if (this.payloadFill === header.length) {
      const payload = Buffer.concat(this.chunks, header.length);
      events.push({ kind: 'frame', header, payload });
      this.finishFrame();
    }
    return pos;
  }

  private skipDiscarded(chunk: Buffer, pos: number): number {
    const n = Math.min(this.discardLeft, chunk.length - pos);
    this.discardLeft -= n;
    if (this.discardLeft === 0) this.state = 'header';
    return pos + n;
  }

  private finishFrame(): void {
    this.state = 'header';
    this.current = undefined;
    this.chunks = [];
    this.payloadFill = 0;
  }
}
