/**
 * shim/util/proto-lite.ts — the protobuf reader/writer of the short-lived `start` and `delete`
 * actions — against protobufjs: seeded random messages both ways, the delete action's
 * DeleteResponse byte for byte against the generated codec (including the observed bytes of
 * PROTOCOL §4.4 and the missing-pid form), and malformed input refused.
 */
import assert from 'node:assert/strict';
import Long from 'long';
import * as protobuf from 'protobufjs';
import { runcOptions, task, toNumber, wellKnown } from '../../../proto';
import { deleteResponse, KILLED_STATUS } from '../../../shim/manager/delete-answer';
import { ProtoReader, ProtoWriter } from '../../../shim/util/proto-lite';

/** Deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Field =
  | { field: number; kind: 'varint'; value: bigint }
  | { field: number; kind: 'bytes'; value: Uint8Array }
  | { field: number; kind: 'string'; value: string }
  | { field: number; kind: 'fixed32'; value: number }
  | { field: number; kind: 'fixed64'; value: bigint };

const ALPHABET = 'aé☃😀/-_. 0';

function randomFields(rand: () => number): Field[] {
  const n = Math.floor(rand() * 8);
  const out: Field[] = [];
  for (let i = 0; i < n; i++) {
    const field = 1 + Math.floor(rand() * (rand() < 0.8 ? 15 : 100_000));
    const pick = Math.floor(rand() * 5);
    const big = (): bigint => BigInt.asUintN(64, (BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 33))) | BigInt(Math.floor(rand() * 2 ** 32)));
    if (pick === 0) out.push({ field, kind: 'varint', value: rand() < 0.3 ? BigInt(Math.floor(rand() * 300)) : big() });
    else if (pick === 1) out.push({ field, kind: 'bytes', value: Uint8Array.from({ length: Math.floor(rand() * (rand() < 0.1 ? 300 : 20)) }, () => Math.floor(rand() * 256)) });
    else if (pick === 2) out.push({ field, kind: 'string', value: Array.from({ length: Math.floor(rand() * 12) }, () => [...ALPHABET][Math.floor(rand() * [...ALPHABET].length)]).join('') });
    else if (pick === 3) out.push({ field, kind: 'fixed32', value: Math.floor(rand() * 2 ** 32) });
    else out.push({ field, kind: 'fixed64', value: big() });
  }
  return out;
}

const WIRE: Record<Field['kind'], number> = { varint: 0, bytes: 2, string: 2, fixed32: 5, fixed64: 1 };

function encodeWithProtobufjs(fields: Field[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const f of fields) {
    w.uint32(((f.field << 3) | WIRE[f.kind]) >>> 0);
    if (f.kind === 'varint') w.uint64(Long.fromString(f.value.toString(), true));
    else if (f.kind === 'bytes') w.bytes(f.value);
    else if (f.kind === 'string') w.string(f.value);
    else if (f.kind === 'fixed32') w.fixed32(f.value);
    else w.fixed64(Long.fromString(f.value.toString(), true));
  }
  return w.finish();
}

describe('shim/util/proto-lite: against protobufjs', () => {
  it('reads 300 random messages written by protobufjs (every wire type, large field numbers, 64-bit varints)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const fields = randomFields(rand);
      const r = new ProtoReader(encodeWithProtobufjs(fields));
      for (const f of fields) {
        assert.deepEqual(r.key(), { field: f.field, wireType: WIRE[f.kind] }, `seed ${seed}`);
        if (f.kind === 'varint') assert.equal(r.varint(), f.value, `seed ${seed}`);
        else if (f.kind === 'bytes') assert.deepEqual(Uint8Array.from(r.bytes()), f.value, `seed ${seed}`);
        else if (f.kind === 'string') assert.equal(r.string(), f.value, `seed ${seed}`);
        else r.skip(WIRE[f.kind]);
      }
      assert.ok(r.done, `seed ${seed}: everything consumed`);
    }
  });

  it('writes 300 random messages exactly as protobufjs does (non-zero varints, non-empty bytes and strings)', () => {
    for (let seed = 1000; seed < 1300; seed++) {
      const rand = prng(seed);
      const fields = randomFields(rand).filter(
        (f): f is Extract<Field, { kind: 'varint' | 'bytes' | 'string' }> =>
          (f.kind === 'varint' && f.value !== 0n) || (f.kind === 'bytes' && f.value.length > 0) || (f.kind === 'string' && f.value !== ''),
      );
      const w = new ProtoWriter();
      for (const f of fields) {
        if (f.kind === 'varint') w.varint(f.field, f.value);
        else if (f.kind === 'bytes') w.bytes(f.field, f.value);
        else w.string(f.field, f.value);
      }
      assert.deepEqual(Buffer.from(w.finish()), Buffer.from(encodeWithProtobufjs(fields)), `seed ${seed}`);
    }
  });

  it('omits zero varints and empty bytes as proto3 does, unless asked to keep an empty message', () => {
    assert.deepEqual([...new ProtoWriter().varint(1, 0).varint(2, false).varint(3, 0n).bytes(4, new Uint8Array(0)).string(5, '').finish()], []);
    assert.deepEqual([...new ProtoWriter().bytes(3, new Uint8Array(0), true).finish()], [0x1a, 0x00]);
    assert.deepEqual([...new ProtoWriter().varint(1, true).finish()], [0x08, 0x01]);
  });

  it('writes negative numbers as 10-byte two’s-complement varints, as protobufjs int64 does', () => {
    const ours = new ProtoWriter().varint(1, -1).varint(2, -150n).finish();
    const theirs = protobuf.Writer.create().uint32(0x08).int64(-1).uint32(0x10).int64(-150).finish();
    assert.deepEqual(Buffer.from(ours), Buffer.from(theirs));
    assert.equal(ours.length, 22);
  });

  it('reads uint32 modulo 2^32 and bool as non-zero, like protobufjs', () => {
    const bytes = protobuf.Writer.create().uint64(Long.fromString('4294967301', true)).uint32(2).finish();
    const r = new ProtoReader(bytes);
    assert.equal(r.uint32(), 5);
    assert.equal(r.bool(), true);
    assert.equal(protobuf.Reader.create(bytes).uint32(), 5);
  });

  it('writes runc Options and Any byte for byte as the generated codecs', () => {
    const ours = new ProtoWriter().varint(1, true).string(3, '/shim').varint(4, 1000).string(6, 'crun').varint(9, true).string(11, '/w').finish();
    const theirs = runcOptions.Options.encode({ noPivotRoot: true, shimCgroup: '/shim', ioUid: 1000, binaryName: 'crun', systemdCgroup: true, criuWorkPath: '/w' }).finish();
    assert.deepEqual(Buffer.from(ours), Buffer.from(theirs));
    const any = new ProtoWriter().string(1, 'containerd.runc.v1.Options').bytes(2, ours).finish();
    assert.deepEqual(Buffer.from(any), Buffer.from(wellKnown.Any.encode({ typeUrl: 'containerd.runc.v1.Options', value: theirs }).finish()));
  });
});

describe('shim/manager/delete: DeleteResponse bytes (PROTOCOL §4.3, §4.4)', () => {
  function generated(pid: number, exitStatus: number, ms: number): Buffer {
    const seconds = Math.floor(ms / 1000);
    return Buffer.from(task.DeleteResponse.encode({ pid: pid >>> 0, exitStatus, exitedAt: { seconds: Long.fromNumber(seconds), nanos: (ms - seconds * 1000) * 1e6 } }).finish());
  }

  // PROTOCOL §4.4, observed from the Go shim: pid 8398, status 137
  const OBSERVED = Buffer.from('08ce41108901' + '1a0c' + '0898938dd806' + '10c5c2d4c501', 'hex');

  it('matches the observed bytes up to the nanoseconds Go had and Date.now() has not', () => {
    const decoded = task.DeleteResponse.decode(OBSERVED);
    assert.equal(decoded.pid, 8398);
    assert.equal(decoded.exitStatus, 137);
    const seconds = toNumber(decoded.exitedAt?.seconds ?? 0);
    const nanos = decoded.exitedAt?.nanos ?? 0;
    assert.deepEqual([seconds, nanos], [1795377560, 414523717]);
    const ms = seconds * 1000 + Math.floor(nanos / 1e6); // 1795377560414
    const ours = Buffer.from(deleteResponse(8398, KILLED_STATUS, ms));
    // same fields, same layout: every byte up to the nanos varint is identical (both nanos take 5 bytes)
    assert.equal(ours.length, OBSERVED.length);
    assert.deepEqual(ours.subarray(0, 15), OBSERVED.subarray(0, 15));
    assert.deepEqual(ours, generated(8398, 137, ms));
    const back = task.DeleteResponse.decode(ours);
    assert.equal(back.exitedAt?.nanos, 414_000_000);
  });

  it('sends a missing pid (-1) as 4294967295, as Go does', () => {
    const ours = Buffer.from(deleteResponse(-1, KILLED_STATUS, 1795377560414));
    assert.equal(ours.subarray(0, 10).toString('hex'), '08ffffffff0f1089011a');
    assert.deepEqual(ours, generated(-1, 137, 1795377560414));
    assert.equal(task.DeleteResponse.decode(ours).pid, 4294967295);
  });

  it('equals task.DeleteResponse.encode for pids, statuses and times across their ranges', () => {
    const rand = prng(42);
    const cases: [number, number, number][] = [
      [0, 0, 0],
      [1, 0, 1000],
      [4194304, 255, 999],
      [2147483647, 137, Date.UTC(2038, 0, 19)],
      [-1, 137, Date.UTC(2106, 1, 7)],
    ];
    for (let i = 0; i < 200; i++) cases.push([Math.floor(rand() * 2 ** 31), Math.floor(rand() * 256), Math.floor(rand() * 4e12)]);
    for (const [pid, status, ms] of cases) assert.deepEqual(Buffer.from(deleteResponse(pid, status, ms)), generated(pid, status, ms), `${pid} ${status} ${ms}`);
  });

  it('always carries exited_at, even at the epoch (an empty Timestamp message)', () => {
    assert.equal(Buffer.from(deleteResponse(0, 0, 0)).toString('hex'), '1a00');
  });
});

describe('shim/util/proto-lite: malformed input', () => {
  const rows: [string, number[], (r: ProtoReader) => unknown, RegExp][] = [
    ['truncated varint', [0x08, 0x80], (r) => (r.key(), r.varint()), /truncated varint/],
    ['truncated key', [0x80], (r) => r.key(), /truncated varint/],
    ['varint over 10 bytes', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], (r) => r.varint(), /varint too long/],
    ['length past the end', [0x0a, 0x05, 0x61], (r) => (r.key(), r.bytes()), /truncated length-delimited field/],
    ['huge length', [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], (r) => (r.key(), r.string()), /truncated length-delimited field/],
    ['skip of a truncated fixed64', [0x09, 1, 2, 3], (r) => r.skip(r.key().wireType), /truncated field/],
    ['skip of a truncated fixed32', [0x0d, 1], (r) => r.skip(r.key().wireType), /truncated field/],
    ['skip of a group (wire type 3)', [0x0b], (r) => r.skip(r.key().wireType), /unsupported wire type 3/],
    ['skip of wire type 7', [0x0f], (r) => r.skip(r.key().wireType), /unsupported wire type 7/],
  ];
  for (const [name, bytes, read, message] of rows) {
    it(`refuses ${name}`, () => {
      assert.throws(() => read(new ProtoReader(Uint8Array.from(bytes))), message);
    });
  }

  it('a 10-byte varint is the longest accepted', () => {
    assert.equal(new ProtoReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).varint(), 2n ** 64n - 1n);
  });
});
