/**
 * The `binary://` log driver (PROTOCOL §10.5): `tsrunc log-driver <dir>`, started by the SHIM for
 * each task, so it lives as long as the task's output does — a supervisor crash or restart never
 * touches it, and nothing is lost or written twice.
 *
 *   fds 3 and 4: the container's stdout and stderr (read ends of pipes), 5: readiness (we write a
 *   byte and close it once the log file is open); environment CONTAINER_ID, CONTAINER_NAMESPACE.
 *
 * Every read is written out at once as JSON-line records (format.ts) into a rotated, size-capped file
 * (rotating-file.ts), with a `start` marker first and an `eof` marker when both streams ended (the
 * shim closes the pipes when the task is deleted). SIGTERM (sent by the shim after closing the
 * pipes) lets the remaining data drain before exiting; stragglers are read synchronously.
 */
import { closeSync, readFileSync, readSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { LOG_CONFIG_FILE, type StreamName, encodeData, encodeMark } from './format';
import { RotatingFile, type RotationLimits } from './rotating-file';

/** Defaults when the directory has no settings file. */
export const DEFAULT_LIMITS: RotationLimits = { maxSize: 10 * 1024 * 1024, maxFiles: 3 };
/** Longest `log` value of one record: longer lines are split over several records. */
const MAX_RECORD_TEXT = 16 * 1024;
/** How long after SIGTERM the pipes may take to reach EOF. */
const TERM_GRACE_MS = 5_000;

/** Reads the driver settings the daemon wrote next to the logs. */
export function readLimits(dir: string): RotationLimits {
  try {
    const v = JSON.parse(readFileSync(join(dir, LOG_CONFIG_FILE), 'utf8')) as Partial<RotationLimits>;
    const maxSize = typeof v.maxSize === 'number' && v.maxSize > 0 ? v.maxSize : DEFAULT_LIMITS.maxSize;
    const maxFiles = typeof v.maxFiles === 'number' && v.maxFiles > 0 ? Math.floor(v.maxFiles) : DEFAULT_LIMITS.maxFiles;
    return { maxSize, maxFiles };
  } catch {
    return DEFAULT_LIMITS;
  }
}

/** Splits decoded output into record texts: each line with its newline, a trailing fragment alone. */
export function splitRecords(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    for (let i = start; i < end; i += MAX_RECORD_TEXT) out.push(text.slice(i, Math.min(end, i + MAX_RECORD_TEXT)));
    start = end;
  }
  return out;
}

/** One input stream: fd → decoder → records. */
class Input {
  private readonly decoder = new StringDecoder('utf8');
  private readonly socket: net.Socket | undefined;
  ended = false;

  constructor(
    private readonly fd: number,
    private readonly stream: StreamName,
    private readonly out: RotatingFile,
    private readonly onEnd: () => void,
  ) {
    try {
      this.socket = new net.Socket({ fd, readable: true, writable: false });
    } catch {
      this.socket = undefined; // not open (run by hand): nothing to read
      this.ended = true;
      return;
    }
    this.socket.on('data', (chunk: Buffer) => this.write(chunk));
    this.socket.on('end', () => this.finish());
    this.socket.on('error', () => this.finish());
  }

  /** Reads what is left without waiting (after SIGTERM's grace), then finishes. */
  drainNow(): void {
    if (this.ended) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buf, 0, buf.length, null);
      } catch {
        break; // EAGAIN: empty; anything else: nothing more to get
      }
      if (n === 0) break;
      this.write(buf.subarray(0, n));
    }
    this.finish();
  }

  private write(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    if (text === '') return;
    const time = new Date().toISOString();
    this.out.write(splitRecords(text).map((t) => encodeData(this.stream, t, time)).join(''));
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const rest = this.decoder.end();
    if (rest !== '') this.out.write(encodeData(this.stream, rest, new Date().toISOString()));
    this.socket?.destroy();
    this.onEnd();
  }
}

/** Runs the driver for `dir` until both streams end; resolves with the exit status. */
export function runLogDriver(dir: string): Promise<number> {
  return new Promise((resolve) => {
    const out = new RotatingFile(dir, readLimits(dir));
    out.write(encodeMark('start', new Date().toISOString()));
    let done = false;
    const finish = (): void => {
      if (done || !inputs.every((i) => i.ended)) return;
      done = true;
      out.write(encodeMark('eof', new Date().toISOString()));
      out.close();
      resolve(0);
    };
    const inputs: Input[] = [];
    inputs.push(new Input(3, 'stdout', out, finish));
    inputs.push(new Input(4, 'stderr', out, finish));
    signalReady();
    process.on('SIGHUP', () => undefined);
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => {
      setTimeout(() => inputs.forEach((i) => i.drainNow()), TERM_GRACE_MS).unref();
    });
    finish();
  });
}

/** Tells the shim we are ready: one byte on fd 5, then close it (either wakes the shim). */
function signalReady(): void {
  try {
    writeSync(5, Buffer.from([0x31]));
  } catch {
    // fd 5 absent (run by hand) or the shim stopped waiting
  }
  try {
    closeSync(5);
  } catch {
    // not open
  }
}
