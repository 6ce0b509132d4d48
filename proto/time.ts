/**
 * google.protobuf.Timestamp as containerd's Go side writes and reads it (PROTOCOL §6.8).
 *
 * "Not exited" is Go's zero time, 0001-01-01T00:00:00Z: `seconds = -62135596800`, `nanos` absent,
 * encoded `08 80 92 b8 c3 98 fe ff ff ff 01`. Go always emits the non-nullable timestamps (exited_at,
 * Envelope.timestamp) and decodes an absent one to the zero time, so an absent field reads as zero
 * here too. Never send `seconds = 0`: that is 1970-01-01, which ctr shows as a real time.
 */
import type { google } from './gen/shim';
import { i64, toBigInt } from './long';

/** A timestamp as the generated classes carry it (`seconds` is a Long, proto/long.ts). */
export type Timestamp = google.protobuf.Timestamp;
/** What a timestamp field may hold: a decoded or built timestamp, or nothing. */
export type TimestampLike = google.protobuf.Timestamp.$Properties | null | undefined;

/** Seconds of Go's zero time (0001-01-01T00:00:00Z) relative to the Unix epoch. */
export const GO_ZERO_TIME_SECONDS = -62135596800n;

const NANOS_PER_SECOND = 1_000_000_000n;

/** A fresh timestamp holding Go's zero time (what "not exited" is on the wire). */
export function zeroTimestamp(): Timestamp {
  return { seconds: i64(GO_ZERO_TIME_SECONDS), nanos: 0 };
}

/** A timestamp from a Date (millisecond precision) or from nanoseconds since the Unix epoch. */
export function toTimestamp(time: Date | bigint): Timestamp {
  let ns: bigint;
  if (typeof time === 'bigint') {
    ns = time;
  } else {
    const ms = time.getTime();
    if (Number.isNaN(ms)) throw new RangeError('toTimestamp: invalid Date');
    ns = BigInt(ms) * 1_000_000n;
  }
  // Floor division: nanos stays in [0, 1e9) for times before 1970 too, as protobuf requires.
  let seconds = ns / NANOS_PER_SECOND;
  let nanos = ns % NANOS_PER_SECOND;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += NANOS_PER_SECOND;
  }
  return { seconds: i64(seconds), nanos: Number(nanos) };
}

/** The current time as a timestamp (millisecond precision). */
export function nowTimestamp(): Timestamp {
  return toTimestamp(new Date());
}

/** Nanoseconds since the Unix epoch; an absent timestamp is Go's zero time. */
export function timestampToNanos(ts: TimestampLike): bigint {
  if (ts == null) return GO_ZERO_TIME_SECONDS * NANOS_PER_SECOND;
  return toBigInt(ts.seconds) * NANOS_PER_SECOND + BigInt(ts.nanos ?? 0);
}

/** A timestamp as a Date (nanoseconds truncated to milliseconds); absent → Go's zero time. */
export function fromTimestamp(ts: TimestampLike): Date {
  const ns = timestampToNanos(ts);
  // Floor to whole milliseconds so times before 1970 do not round towards the epoch.
  const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
  return new Date(Number(ms));
}

/** Whether a timestamp is Go's zero time ("not exited"), including an absent field. `seconds = 0` is not zero. */
export function isZero(ts: TimestampLike): boolean {
  return ts == null || (toBigInt(ts.seconds) === GO_ZERO_TIME_SECONDS && (ts.nanos ?? 0) === 0);
}
