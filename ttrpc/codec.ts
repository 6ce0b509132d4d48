/**
 * The ttrpc envelope messages, encoded and decoded by hand (wire.ts), byte-compatible with Go:
 *
 *   ttrpc.Request    1 service string, 2 method string, 3 payload bytes, 4 timeout_nano int64,
 *                    5 metadata repeated KeyValue
 *   ttrpc.KeyValue   1 key string, 2 value string
 *   ttrpc.Response   1 status google.rpc.Status, 2 payload bytes
 *   google.rpc.Status  1 code int32, 2 message string, 3 details repeated google.protobuf.Any
 *   google.protobuf.Any  1 type_url string, 2 value bytes
 *
 * Encoders emit fields in ascending order and omit zero values, as Go does; a successful Response has no
 * status at all (an Empty reply is therefore zero bytes). Decoders accept any order, skip unknown fields and
 * fields whose wire type does not match, keep the last value of a repeated scalar, merge repeated messages,
 * and throw DecodeError on malformed input. Decoded `bytes` are views into the input, not copies.
 */
import { ProtoReader, ProtoWriter, WireType } from './wire';

/** One metadata entry (`ttrpc.KeyValue`). */
export interface KeyValue {
  key: string;
  value: string;
}

/** `google.protobuf.Any`, as carried in status details. */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

/** `google.rpc.Status`. */
export interface StatusMessage {
  code: number;
  message: string;
  details: AnyMessage[];
}

/** `ttrpc.Request`. `timeoutNano` is relative, in nanoseconds; 0 means no deadline. */
export interface RequestEnvelope {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutNano: bigint;
  metadata: KeyValue[];
}

/** `ttrpc.Response`. `status` is absent on success. */
export interface ResponseEnvelope {
  status?: StatusMessage | undefined;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Encodes a ttrpc.Request. */
export function encodeRequest(req: RequestEnvelope): Buffer {
  const w = new ProtoWriter(64 + req.payload.length);
  if (req.service !== '') w.string(1, req.service);
  if (req.method !== '') w.string(2, req.method);
  if (req.payload.length > 0) w.bytes(3, req.payload);
  if (req.timeoutNano !== 0n) w.int64(4, req.timeoutNano);
  for (const kv of req.metadata) w.bytes(5, encodeKeyValue(kv));
  return w.finish();
}

/** Decodes a ttrpc.Request; throws DecodeError on malformed input. */
export function decodeRequest(bytes: Uint8Array): RequestEnvelope {
  const req: RequestEnvelope = { service: '', method: '', payload: EMPTY, timeoutNano: 0n, metadata: [] };
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === WireType.LengthDelimited) req.service = r.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) req.method = r.string();
    else if (field === 3 && wireType === WireType.LengthDelimited) req.payload = r.bytes();
    else if (field === 4 && wireType === WireType.Varint) req.timeoutNano = r.int64();
    else if (field === 5 && wireType === WireType.LengthDelimited) req.metadata.push(decodeKeyValue(r.bytes()));
    else r.skip(wireType, field);
  }
  return req;
}

/** Encodes a ttrpc.Response (no status field when `status` is undefined). */
export function encodeResponse(res: ResponseEnvelope): Buffer {
  const w = new ProtoWriter(32 + res.payload.length);
  if (res.status !== undefined) w.bytes(1, encodeStatus(res.status));
  if (res.payload.length > 0) w.bytes(2, res.payload);
  return w.finish();
}

/** Decodes a ttrpc.Response; throws DecodeError on malformed input. */
export function decodeResponse(bytes: Uint8Array): ResponseEnvelope {
  const res: ResponseEnvelope = { payload: EMPTY };
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === WireType.LengthDelimited) res.status = decodeStatus(r.bytes(), res.status);
    else if (field === 2 && wireType === WireType.LengthDelimited) res.payload = r.bytes();
    else r.skip(wireType, field);
  }
  return res;
}

/** Encodes a google.rpc.Status. */
export function encodeStatus(status: StatusMessage): Buffer {
  const w = new ProtoWriter(16 + status.message.length * 3);
  if (status.code !== 0) w.int32(1, status.code);
  if (status.message !== '') w.string(2, status.message);
  for (const any of status.details) w.bytes(3, encodeAny(any));
  return w.finish();
}

/** Decodes a google.rpc.Status, merging into `into` when given (a repeated embedded message merges). */
export function decodeStatus(bytes: Uint8Array, into?: StatusMessage): StatusMessage {
  const status: StatusMessage = into ?? { code: 0, message: '', details: [] };
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === WireType.Varint) status.code = r.int32();
    else if (field === 2 && wireType === WireType.LengthDelimited) status.message = r.string();
    else if (field === 3 && wireType === WireType.LengthDelimited) status.details.push(decodeAny(r.bytes()));
    else r.skip(wireType, field);
  }
  return status;
}

function encodeKeyValue(kv: KeyValue): Buffer {
  const w = new ProtoWriter(8 + (kv.key.length + kv.value.length) * 3);
  if (kv.key !== '') w.string(1, kv.key);
  if (kv.value !== '') w.string(2, kv.value);
  return w.finish();
}

function decodeKeyValue(bytes: Uint8Array): KeyValue {
  const kv: KeyValue = { key: '', value: '' };
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === WireType.LengthDelimited) kv.key = r.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) kv.value = r.string();
    else r.skip(wireType, field);
  }
  return kv;
}

function encodeAny(any: AnyMessage): Buffer {
  const w = new ProtoWriter(8 + any.typeUrl.length * 3 + any.value.length);
  if (any.typeUrl !== '') w.string(1, any.typeUrl);
  if (any.value.length > 0) w.bytes(2, any.value);
  return w.finish();
}

function decodeAny(bytes: Uint8Array): AnyMessage {
  const any: AnyMessage = { typeUrl: '', value: EMPTY };
  const r = new ProtoReader(bytes);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === WireType.LengthDelimited) any.typeUrl = r.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) any.value = r.bytes();
    else r.skip(wireType, field);
  }
  return any;
}
