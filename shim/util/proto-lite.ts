/**
 * A minimal protobuf reader and writer for the shim's short-lived actions (`start`, `delete`),
 * which must not pay for loading protobufjs (PROTOCOL §13.3a: every container starts them). They
 * touch three tiny messages (google.protobuf.Any, the runtime options, DeleteResponse); the unit
 * tests pin this code to the generated codecs byte for byte.
 */

/** Reads fields of one message. */
export class ProtoReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The next field's number and wire type. */
  key(): { field: number; wireType: number } {
    const key = Number(this.varint());
    return { field: key >>> 3, wireType: key & 7 };
  }

  /** A varint as bigint (up to 64 bits). */
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new Error('protobuf: truncated varint');
      const byte = this.buf[this.pos++] ?? 0;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new Error('protobuf: varint too long');
  }

  bool(): boolean {
    return this.varint() !== 0n;
  }

  uint32(): number {
    return Number(BigInt.asUintN(32, this.varint()));
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (len > this.buf.length - this.pos) throw new Error('protobuf: truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  /** Skips a field of the given wire type. */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`protobuf: unsupported wire type ${wireType}`);
    if (this.pos > this.buf.length) throw new Error('protobuf: truncated field');
  }
}

/** Writes fields in the order called (callers call in ascending field order, as Go does). */
export class ProtoWriter {
  private readonly parts: number[] = [];

  private rawVarint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }

  /** A varint field (uint32/uint64/int64/bool/enum); zero is omitted as proto3 does. */
  varint(field: number, value: bigint | number | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
    if (v === 0n) return this;
    this.rawVarint(BigInt(field << 3));
    this.rawVarint(v);
    return this;
  }

  /** A length-delimited field; an empty value is omitted unless `always`. */
  bytes(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.rawVarint(BigInt((field << 3) | 2));
    this.rawVarint(BigInt(value.length));
    for (const b of value) this.parts.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
