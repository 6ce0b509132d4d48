import assert from 'node:assert/strict';
import {
  GO_ZERO_TIME_SECONDS,
  U64_MAX,
  fromTimestamp,
  i64,
  isU64Max,
  isZero,
  nowTimestamp,
  timestampToNanos,
  toBigInt,
  toNumber,
  toTimestamp,
  u64,
  wellKnown,
  zeroTimestamp,
  type Long,
} from '../../../proto';
import { toHex } from './fixtures';

describe('proto/time', () => {
  it("holds Go's zero time", () => {
    assert.equal(GO_ZERO_TIME_SECONDS, -62135596800n);
    const z = zeroTimestamp();
    assert.equal(toBigInt(z.seconds), -62135596800n);
    assert.equal(z.nanos, 0);
    assert.equal(fromTimestamp(z).toISOString(), '0001-01-01T00:00:00.000Z');
    assert.ok(isZero(z) && isZero(null) && isZero(undefined));
    assert.ok(!isZero({ seconds: i64(0), nanos: 0 }), '1970 is a real time, not zero');
    assert.ok(!isZero({}), 'an empty Timestamp message is 1970');
    assert.equal(fromTimestamp(undefined).getTime(), -62135596800000);
  });

  it('converts Dates and nanoseconds both ways', () => {
    const d = new Date('2026-11-22T18:50:20.484Z');
    const ts = toTimestamp(d);
    assert.deepEqual([toNumber(ts.seconds), ts.nanos], [1795373420, 484000000]);
    assert.equal(fromTimestamp(ts).toISOString(), d.toISOString());
    const ns = 1795373420484473517n;
    const tsn = toTimestamp(ns);
    assert.deepEqual([toNumber(tsn.seconds), tsn.nanos], [1795373420, 484473517]);
    assert.equal(timestampToNanos(tsn), ns);
    assert.equal(fromTimestamp(tsn).toISOString(), '2026-11-22T18:50:20.484Z');
  });

  it('keeps nanos in [0, 1e9) before 1970', () => {
    const ts = toTimestamp(-1n);
    assert.deepEqual([toBigInt(ts.seconds), ts.nanos], [-1n, 999999999]);
    assert.equal(fromTimestamp(ts).getTime(), -1);
    assert.equal(fromTimestamp(toTimestamp(new Date(-1500))).getTime(), -1500);
  });

  it('rejects invalid Dates and encodes now as a real time', () => {
    assert.throws(() => toTimestamp(new Date(NaN)), RangeError);
    const now = nowTimestamp();
    assert.ok(!isZero(now));
    assert.ok(Math.abs(fromTimestamp(now).getTime() - Date.now()) < 5000);
    assert.ok(wellKnown.Timestamp.encode(now).finish().length > 0);
  });
});

describe('proto/long', () => {
  it('builds exact 64-bit values and refuses out-of-range ones', () => {
    assert.equal(u64((1n << 64n) - 1n).toString(), '18446744073709551615');
    assert.ok(isU64Max(U64_MAX) && isU64Max(u64((1n << 64n) - 1n)));
    assert.ok(!isU64Max(u64(5)) && !isU64Max(5) && !isU64Max(null));
    assert.throws(() => u64(-1), RangeError);
    assert.throws(() => u64(1n << 64n), RangeError);
    assert.throws(() => u64(0.5), RangeError);
    assert.equal(i64(-(1n << 63n)).toString(), '-9223372036854775808');
    assert.throws(() => i64(1n << 63n), RangeError);
  });

  it('converts decoded values to bigint and to safe numbers only', () => {
    assert.equal(toBigInt(U64_MAX), 18446744073709551615n);
    assert.equal(toBigInt(i64(-62135596800)), -62135596800n);
    assert.equal(toBigInt(null), 0n);
    assert.equal(toNumber(u64(2 ** 53 - 1)), 2 ** 53 - 1);
    assert.throws(() => toNumber(u64(2n ** 53n)), RangeError);
    assert.equal(toNumber(12), 12);
  });

  it('encodes U64_MAX as ten 0xff-ish bytes and never takes a bigint', () => {
    const bytes = wellKnown.Timestamp.encode({ seconds: i64(-1) }).finish();
    assert.equal(toHex(bytes), '08 ff ff ff ff ff ff ff ff ff 01');
    const asLong: Long = U64_MAX;
    // @ts-expect-error a bigint in a 64-bit field would silently encode as 0: the types forbid it
    wellKnown.Timestamp.encode({ seconds: 5n });
    assert.ok(asLong.unsigned);
  });
});
