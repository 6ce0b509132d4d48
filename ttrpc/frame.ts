/**
 * The ttrpc frame: a 10-byte header (data length u32 BE, stream id u32 BE, type u8, flags u8) followed by
 * `length` data bytes. Pure functions only; reading a byte stream is frame-reader.ts, writing frame-writer.ts.
 */
import { OversizedMessageError } from './errors';

/** Size of a frame header in bytes. */
export const HEADER_LENGTH = 10;

/** Largest data length a frame may carry (4 MiB, `4 << 20` in Go); larger frames are refused. */
export const MAX_MESSAGE_LENGTH = 4 << 20;

/** Frame types. Type 3 (data) exists since ttrpc 1.2 for streams, which this package does not implement. */
export const FrameType = {
  Request: 0x01,
  Response: 0x02,
  Data: 0x03,
} as const;

/** Frame flags (ttrpc 1.2 streaming; a unary request carries none). */
export const FrameFlag = {
  /** request / data: no more data from the sender. */
  RemoteClosed: 0x01,
  /** request: the sender will send data frames. */
  RemoteOpen: 0x02,
  /** data: the frame carries no data. */
  NoData: 0x04,
} as const;

/** A decoded frame header. `type` is a raw byte: unknown types are legal and ignored by receivers. */
export interface FrameHeader {
  readonly length: number;
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

/** A whole frame as received: header and data (a view into the received bytes). */
export interface Frame {
  readonly header: FrameHeader;
  readonly payload: Buffer;
}

/** The Go server's status message for an oversized frame (RESOURCE_EXHAUSTED), text for text. */
export function oversizeMessage(length: number): string {
  return `message length ${length} exceed maximum message size of ${MAX_MESSAGE_LENGTH}`;
}

/** Writes a header into `target` at `offset` (a new 10-byte buffer by default) and returns `target`. */
export function encodeHeader(header: FrameHeader, target: Buffer = Buffer.allocUnsafe(HEADER_LENGTH), offset = 0): Buffer {
  target.writeUInt32BE(header.length >>> 0, offset);
  target.writeUInt32BE(header.streamId >>> 0, offset + 4);
  target[offset + 8] = header.type & 0xff;
  target[offset + 9] = header.flags & 0xff;
  return target;
}

/** Reads a header from 10 bytes at `offset`. Every byte pattern is a header; validation is the receiver's job. */
export function decodeHeader(bytes: Uint8Array, offset = 0): FrameHeader {
  if (bytes.length - offset < HEADER_LENGTH) throw new RangeError(`a frame header needs ${HEADER_LENGTH} bytes`);
  const b = (i: number): number => bytes[offset + i] as number;
  return {
    length: ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0,
    streamId: ((b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7)) >>> 0,
    type: b(8),
    flags: b(9),
  };
}

/**
 * One whole frame (header and data) as a single buffer, ready for one socket write.
 * Throws OversizedMessageError, before anything is built, when `payload` exceeds MAX_MESSAGE_LENGTH.
 */
export function encodeFrame(streamId: number, type: number, payload: Uint8Array, flags = 0): Buffer {
  if (payload.length > MAX_MESSAGE_LENGTH) throw new OversizedMessageError(payload.length, MAX_MESSAGE_LENGTH);
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  encodeHeader({ length: payload.length, streamId, type, flags }, frame, 0);
  frame.set(payload, HEADER_LENGTH);
  return frame;
}
