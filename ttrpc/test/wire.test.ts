/**
 * Protobuf primitives and the envelope codec: varint limits, negative int64/int32, unknown fields of every
 * wire type, any field order, malformed input rejected with DecodeError.
 */
import * as assert from 'node:assert/strict';
import { decodeRequest, decodeResponse, decodeStatus, encodeRequest, encodeResponse, encodeStatus, type RequestEnvelope } from '../codec';
import { DecodeError } from '../errors';
import { ProtoReader, ProtoWriter } from '../wire';
import { bytes } from './helpers';

function readInt64(hex: string): bigint {
  const r = new ProtoReader(Buffer.from(hex, 'hex'));
  const v = r.int64();
  assert.ok(r.done);
  return v;
}

describe('wire: protobuf primitives', () => {
  it('decodes varints of every length up to 10 bytes', () => {
    assert.equal(readInt64('00'), 0n);
    assert.equal(readInt64('7f'), 127n);
    assert.equal(readInt64('ac02'), 300n);
    assert.equal(readInt64('ffffffff0f'), 0xffffffffn);
    assert.equal(readInt64('8080808010'), 1n << 32n);
    assert.equal(readInt64('ffffffffffffffff7f'), (1n << 63n) - 1n);
    assert.equal(readInt64('ffffffffffffffffff01'), -1n);
    assert.equal(readInt64('80808080808080808001'), -(1n << 63n));
  });

  it('encodes negative int64 as 10 bytes (the Go zero time, PROTOCOL §6.8)', () => {
    const out = new ProtoWriter().int64(1, -62135596800n).finish();
    assert.deepEqual(out, bytes('08 80 92 b8 c3 98 fe ff ff ff 01'));
    assert.equal(out.length - 1, 10);
    const r = new ProtoReader(out);
    assert.deepEqual(r.key(), { field: 1, wireType: 0 });
    assert.equal(r.int64(), -62135596800n);
  });

  it('encodes negative int32 sign-extended to 10 bytes and reads it back', () => {
    const out = new ProtoWriter().int32(1, -1).finish();
    assert.deepEqual(out, bytes('08 ff ff ff ff ff ff ff ff ff 01'));
    const r = new ProtoReader(out.subarray(1));
    assert.equal(r.int32(), -1);
  });

  it('rejects a varint longer than 10 bytes or overflowing 64 bits', () => {
    assert.throws(() => readInt64('ffffffffffffffffff02'), DecodeError);
    assert.throws(() => readInt64('ffffffffffffffffff8001'), DecodeError);
  });

  it('rejects truncated varints, overrunning lengths, field 0 and wire types 6/7', () => {
    assert.throws(() => readInt64('ff'), /truncated varint/);
    assert.throws(() => decodeRequest(bytes('0a05 6162')), /overruns/);
    assert.throws(() => decodeRequest(bytes('0a ffffffff0f')), /overruns/);
    assert.throws(() => decodeRequest(bytes('00 00')), /field number 0/);
    assert.throws(() => decodeRequest(bytes('0e')), /wire type 6/);
    assert.throws(() => decodeRequest(bytes('0f')), /wire type 7/);
    assert.throws(() => decodeRequest(bytes('31 0000')), /overruns/); // fixed64 cut short
    assert.throws(() => decodeRequest(bytes('35 00')), /overruns/); // fixed32 cut short
  });

  it('rejects unbalanced groups', () => {
    assert.throws(() => decodeRequest(bytes('33 08 01')), /unterminated group/);
    assert.throws(() => decodeRequest(bytes('33 44')), /mismatched end group/);
    assert.throws(() => decodeRequest(bytes('34')), /unexpected end group/);
  });
});

describe('codec: envelope', () => {
  const request: RequestEnvelope = {
    service: 'containerd.task.v2.Task',
    method: 'State',
    payload: bytes('0a03 727831'),
    timeoutNano: 2_000_000_000n,
    metadata: [
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
      { key: 'containerd-namespace-ttrpc', value: 'default' },
    ],
  };

  it('round-trips a request with repeated metadata keys', () => {
    const decoded = decodeRequest(encodeRequest(request));
    assert.deepEqual({ ...decoded, payload: Buffer.from(decoded.payload) }, { ...request, payload: Buffer.from(request.payload) });
  });

  it('omits zero values: an empty request encodes to zero bytes', () => {
    assert.equal(encodeRequest({ service: '', method: '', payload: new Uint8Array(0), timeoutNano: 0n, metadata: [] }).length, 0);
    assert.equal(encodeStatus({ code: 0, message: '', details: [] }).length, 0);
  });

  it('skips unknown fields of every wire type, anywhere, and accepts any field order', () => {
    const unknown = bytes(
      '30 96 01', //             field 6 varint
      '39 0102030405060708', //  field 7 fixed64
      '42 03 616263', //         field 8 bytes
      '4b 08 01 52 01 78 4c', // field 9 group holding a varint and bytes
      '55 01020304', //          field 10 fixed32
    );
    const data = bytes(
      unknown,
      '2a 06 0a01 61 1201 31', // metadata a=1, before everything else
      '20 05', // timeout_nano 5
      unknown,
      '12 05', 'State',
      '1a 02 0801',
      '0a 04', 'Task',
      unknown,
    );
    const req = decodeRequest(data);
    assert.equal(req.service, 'Task');
    assert.equal(req.method, 'State');
    assert.deepEqual(Buffer.from(req.payload), bytes('0801'));
    assert.equal(req.timeoutNano, 5n);
    assert.deepEqual(req.metadata, [{ key: 'a', value: '1' }]);
  });

  it('treats a known field with the wrong wire type as unknown', () => {
    const req = decodeRequest(bytes('08 05', '0a 01', 'x'));
    assert.equal(req.service, 'x');
  });

  it('decodes a negative timeout_nano (10-byte varint)', () => {
    const data = new ProtoWriter().int64(4, -1n).finish();
    assert.equal(data.length, 11);
    assert.equal(decodeRequest(data).timeoutNano, -1n);
  });

  it('round-trips a status with details and a negative code', () => {
    const status = { code: -3, message: 'odd', details: [{ typeUrl: 'x.Y', value: bytes('0801') }] };
    const decoded = decodeStatus(encodeStatus(status));
    assert.equal(decoded.code, -3);
    assert.equal(decoded.message, 'odd');
    assert.equal(decoded.details[0]?.typeUrl, 'x.Y');
    assert.deepEqual(Buffer.from(decoded.details[0]?.value ?? []), bytes('0801'));
  });

  it('a response without status decodes as success; with status carries it', () => {
    assert.equal(decodeResponse(encodeResponse({ payload: bytes('0801') })).status, undefined);
    const res = decodeResponse(encodeResponse({ status: { code: 5, message: 'nf', details: [] }, payload: new Uint8Array(0) }));
    assert.deepEqual(res.status, { code: 5, message: 'nf', details: [] });
  });

  it('merges a status field that appears twice (proto semantics for embedded messages)', () => {
    const res = decodeResponse(bytes('0a 02 0805', '0a 04 1202', 'nf'));
    assert.deepEqual(res.status, { code: 5, message: 'nf', details: [] });
  });
});
