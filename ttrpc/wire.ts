/**
 * Protobuf wire-format primitives: just enough of proto3 to carry the ttrpc envelope (varints, int32/int64,
 * length-delimited fields, and skipping of every wire type). Payload messages are encoded by the
 * generated codecs in proto/; this package never needs protobufjs.
 *
 * The reader is strict where malformed input could hurt (varints longer than 10 bytes or overflowing 64 bits,
 * lengths beyond the buffer, field number 0, wire types 6/7, unbalanced groups) and lenient where proto3 is:
 * unknown fields of any wire type are skipped, fields may come in any order.
 */
import { DecodeError } from './errors';

/** Protobuf wire types. */
export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;

/** Nesting limit for groups while skipping unknown fields (protobuf-go uses 10000; we need far less). */
const MAX_GROUP_DEPTH = 100;

/** Reads protobuf fields from one message's bytes (a view: no copy is made). */
export class ProtoReader {
  private pos: number;
  private readonly end: number;
  /** High 32 bits of the last varint read (the low 32 are returned). */
  private hi = 0;

  constructor(private readonly buf: Uint8Array) {
    this.pos = 0;
    this.end = buf.length;
  }

  /** True when every byte has been consumed. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field key: its field number (1 … 2^29-1) and wire type (0 … 5). */
  key(): { field: number; wireType: number } {
    const at = this.pos;
    const lo = this.varint();
    if (this.hi !== 0) throw new DecodeError(`proto: field key too large at offset ${at}`);
    const field = lo >>> 3;
    const wireType = lo & 7;
    if (field === 0) throw new DecodeError(`proto: invalid field number 0 at offset ${at}`);
    if (wireType > WireType.Fixed32) throw new DecodeError(`proto: invalid wire type ${wireType} at offset ${at}`);
    return { field, wireType };
  }

  /** A varint as an unsigned 32-bit number (its low 32 bits, as proto3 does for uint32). */
  uint32(): number {
    return this.varint();
  }

  /** A varint as a signed 32-bit number (proto3 int32 / enum: the low 32 bits, sign included). */
  int32(): number {
    return this.varint() | 0;
  }

  /** A varint as a signed 64-bit integer (proto3 int64). */
  int64(): bigint {
    const lo = this.varint();
    return BigInt.asIntN(64, (BigInt(this.hi >>> 0) << 32n) | BigInt(lo));
  }

  /** A length-delimited field: a view into the underlying buffer. */
  bytes(): Uint8Array {
    const at = this.pos;
    const len = this.varint();
    if (this.hi !== 0 || len > this.end - this.pos) {
      throw new DecodeError(`proto: length-delimited field at offset ${at} overruns the message`);
    }
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, start + len);
  }

  /** A length-delimited field decoded as UTF-8 (invalid sequences become U+FFFD, as Buffer does). */
  string(): string {
    const b = this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }

  /** Skips the value of a field of the given wire type (the key has been read). */
  skip(wireType: number, field: number, depth = 0): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.LengthDelimited:
        this.bytes();
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      case WireType.StartGroup:
        this.skipGroup(field, depth + 1);
        return;
      case WireType.EndGroup:
        throw new DecodeError(`proto: unexpected end group for field ${field} at offset ${this.pos}`);
      default:
        throw new DecodeError(`proto: invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private skipGroup(field: number, depth: number): void {
    if (depth > MAX_GROUP_DEPTH) throw new DecodeError('proto: groups nested too deeply');
    for (;;) {
      if (this.done) throw new DecodeError(`proto: unterminated group for field ${field}`);
      const k = this.key();
      if (k.wireType === WireType.EndGroup) {
        if (k.field !== field) throw new DecodeError(`proto: mismatched end group ${k.field} for field ${field}`);
        return;
      }
      this.skip(k.wireType, k.field, depth);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new DecodeError(`proto: fixed-width field at offset ${this.pos} overruns the message`);
    this.pos += n;
  }

  /**
   * Reads one varint (at most 10 bytes, at most 64 bits, as protobuf-go's ConsumeVarint). Returns the low 32
   * bits as an unsigned number and leaves the high 32 bits in `this.hi`.
   */
  private varint(): number {
    const buf = this.buf;
    const end = this.end;
    const start = this.pos;
    let pos = start;
    let lo = 0;
    let b: number;
    // bytes 0..3: bits 0..27
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw truncatedVarint(start);
      b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return this.settle(pos, lo, 0);
    }
    // byte 4: bits 28..34
    if (pos >= end) throw truncatedVarint(start);
    b = buf[pos++] as number;
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >>> 4;
    if (b < 0x80) return this.settle(pos, lo, hi);
    // bytes 5..8: bits 35..62
    for (let shift = 3; shift < 31; shift += 7) {
      if (pos >= end) throw truncatedVarint(start);
      b = buf[pos++] as number;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return this.settle(pos, lo, hi);
    }
    // byte 9: bit 63 only
    if (pos >= end) throw truncatedVarint(start);
    b = buf[pos++] as number;
    if (b > 1) throw new DecodeError(`proto: varint at offset ${start} overflows 64 bits`);
    hi |= b << 31;
    return this.settle(pos, lo, hi);
  }

  private settle(pos: number, lo: number, hi: number): number {
    this.pos = pos;
    this.hi = hi >>> 0;
    return lo >>> 0;
  }
}

function truncatedVarint(at: number): DecodeError {
  return new DecodeError(`proto: truncated varint at offset ${at}`);
}

/** Writes protobuf fields into a growing buffer. Callers emit fields in ascending order and skip zero values. */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 64) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** A varint field holding a non-negative integer below 2^53 (lengths, uint32, positive int32). */
  uint(field: number, value: number): this {
    this.key(field, WireType.Varint);
    this.rawUint(value);
    return this;
  }

  /** An int32 field; negative values are sign-extended to 10 bytes as proto3 requires. */
  int32(field: number, value: number): this {
    return value < 0 ? this.int64(field, BigInt(value | 0)) : this.uint(field, value >>> 0);
  }

  /** An int64 field (two's complement: negative values take 10 bytes). */
  int64(field: number, value: bigint): this {
    this.key(field, WireType.Varint);
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  /** A length-delimited field with raw bytes (an embedded message or `bytes`). */
  bytes(field: number, value: Uint8Array): this {
    this.key(field, WireType.LengthDelimited);
    this.rawUint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** A string field, UTF-8 encoded. */
  string(field: number, value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    this.key(field, WireType.LengthDelimited);
    this.rawUint(len);
    this.ensure(len);
    this.pos += this.buf.write(value, this.pos, len, 'utf8');
    return this;
  }

  /** The bytes written so far (a view of the internal buffer; the writer must not be reused). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private key(field: number, wireType: number): void {
    this.rawUint(field * 8 + wireType);
  }

  private rawUint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
