/**
 * The captured-output file format: JSON lines, one record per line, docker's json-file shape for
 * output — `{"log":"hi\n","stream":"stdout","time":"2025-01-01T00:00:00.000Z"}` — plus markers the
 * log driver writes at its start and at its end: `{"mark":"start"|"eof","time":…}`.
 *
 * A record holds one line of output with its newline, or a fragment (no newline) when a read ended
 * mid-line: concatenating the `log` values of a stream gives that stream's bytes back (as UTF-8).
 * Files: `container.log` (current), `container.log.1` (previous), … up to the configured count.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The current log file's name; rotated ones get `.1`, `.2`, … (higher = older). */
export const LOG_FILE = 'container.log';
/** The log driver's settings file in the log directory (written by the daemon). */
export const LOG_CONFIG_FILE = 'log-config.json';

/** An output stream. */
export type StreamName = 'stdout' | 'stderr';

/** One parsed line of a log file. */
export type LogRecord =
  | { readonly kind: 'data'; readonly stream: StreamName; readonly log: string; readonly time: string }
  | { readonly kind: 'mark'; readonly mark: 'start' | 'eof'; readonly time: string };

/** The JSON line of an output record (with its trailing newline). */
export function encodeData(stream: StreamName, log: string, time: string): string {
  return `${JSON.stringify({ log, stream, time })}\n`;
}

/** The JSON line of a marker. */
export function encodeMark(mark: 'start' | 'eof', time: string): string {
  return `${JSON.stringify({ mark, time })}\n`;
}

/** Parses one line (without its newline); undefined for anything that is not a record of ours. */
export function parseRecord(line: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { log?: unknown; stream?: unknown; time?: unknown; mark?: unknown };
  const time = typeof v.time === 'string' ? v.time : '';
  if (typeof v.log === 'string' && (v.stream === 'stdout' || v.stream === 'stderr')) return { kind: 'data', stream: v.stream, log: v.log, time };
  if (v.mark === 'start' || v.mark === 'eof') return { kind: 'mark', mark: v.mark, time };
  return undefined;
}

/** The name of the n-th rotated file (0 = current). */
export function rotatedName(n: number): string {
  return n === 0 ? LOG_FILE : `${LOG_FILE}.${n}`;
}

/** The rotated files present in `dir`, oldest first (not including the current one). */
export function rotatedFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^container\.log\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a)
    .map((n) => join(dir, rotatedName(n)));
}
