/**
 * 64-bit integers at the protobuf edge.
 *
 * The generated classes type every int64/uint64 field as `Long` (pbjs/pbts `--force-long`), which is
 * what protobufjs really decodes them to whenever the `long` package is present — and it always is
 * (a protobufjs dependency). `Long` carries all 64 bits, so cgroup v2's "max" (2^64−1) and Go's zero
 * time (seconds −62135596800) round-trip exactly; a JS number would not. The rest of the code should
 * not handle `Long` itself: it converts at the edge with these helpers, to `bigint` for exact values
 * or to `number` where a value is known to be small (throwing instead of silently rounding).
 *
 * Caution: never assign a `bigint` to a generated 64-bit field — protobufjs' writer does not know
 * bigint and would encode 0. The `Long` field types make that a type error.
 */
import Long from 'long';

/** The long.js class (for its type and `Long.isLong`; build values with u64/i64). */
export { Long };

const U64_LIMIT = 1n << 64n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** 2^64−1 as an unsigned Long: what cgroup v2 files reading "max" are reported as. */
export const U64_MAX: Long = Long.MAX_UNSIGNED_VALUE;

function toExactBigInt(value: bigint | number, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what}: ${value} is not a safe integer`);
  return BigInt(value);
}

/** An unsigned 64-bit value for a uint64 field; RangeError outside [0, 2^64). */
export function u64(value: bigint | number): Long {
  const v = toExactBigInt(value, 'u64');
  if (v < 0n || v >= U64_LIMIT) throw new RangeError(`u64: ${v} is outside [0, 2^64)`);
  return Long.fromBigInt(v, true);
}

/** A signed 64-bit value for an int64 field; RangeError outside [−2^63, 2^63). */
export function i64(value: bigint | number): Long {
  const v = toExactBigInt(value, 'i64');
  if (v < I64_MIN || v > I64_MAX) throw new RangeError(`i64: ${v} is outside [-2^63, 2^63)`);
  return Long.fromBigInt(v, false);
}

/** The exact value of a decoded 64-bit field (honouring its signedness), or of a plain number. */
export function toBigInt(value: Long | number | null | undefined): bigint {
  if (value == null) return 0n;
  if (typeof value === 'number') return toExactBigInt(value, 'toBigInt');
  return value.toBigInt();
}

/** A decoded 64-bit field as a number; RangeError when it is not a safe integer (|v| ≥ 2^53). */
export function toNumber(value: Long | number | null | undefined): number {
  const v = toBigInt(value);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`toNumber: ${v} is not a safe integer`);
  }
  return Number(v);
}

/** Whether a decoded uint64 field holds 2^64−1 (cgroup "max"). */
export function isU64Max(value: Long | number | null | undefined): boolean {
  // All 64 bits set, whatever the Long's signedness flag says.
  return typeof value === 'object' && value !== null ? value.low === -1 && value.high === -1 : false;
}
