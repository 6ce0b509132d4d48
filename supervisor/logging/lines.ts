/**
 * Log records as lines, for `logs --tail` and `-t`: the driver writes one record per read, which
 * may hold several lines or part of one; a line here is everything up to and including a newline
 * (or what is left without one), with its record's stream and time.
 */
import type { LogRecord, StreamName } from './format';

export interface LogLine {
  readonly stream: StreamName;
  readonly text: string;
  /** ISO time of the record it came from. */
  readonly time: string;
}

/** The lines of a record (none for a marker). */
export function linesOf(r: LogRecord): LogLine[] {
  if (r.kind !== 'data' || r.log === '') return [];
  const out: LogLine[] = [];
  let start = 0;
  for (let nl = r.log.indexOf('\n'); nl >= 0; nl = r.log.indexOf('\n', start)) {
    out.push({ stream: r.stream, text: r.log.slice(start, nl + 1), time: r.time });
    start = nl + 1;
  }
  if (start < r.log.length) out.push({ stream: r.stream, text: r.log.slice(start), time: r.time });
  return out;
}

/** Whether a line passes `--since` (ms since the epoch; undefined: every line). */
export function isSince(line: LogLine, sinceMs: number | undefined): boolean {
  return sinceMs === undefined || Date.parse(line.time) >= sinceMs;
}

/** The last `n` of `lines` (a ring, so memory stays bounded by `n`). */
export class Tail {
  private readonly ring: LogLine[] = [];
  constructor(private readonly n: number) {}
  push(line: LogLine): void {
    if (this.n <= 0) return;
    this.ring.push(line);
    if (this.ring.length > this.n) this.ring.shift();
  }
  lines(): readonly LogLine[] {
    return this.ring;
  }
}
