/**
 * The shim daemon's log: lines to the bundle's `log` FIFO, which containerd reads and copies into
 * its own log (PROTOCOL §3.5), with the fields id, namespace and runtime on every line.
 *
 * Two constraints shape it:
 * - start-up cost: winston costs ~35 ms and several MiB to load, and a shim starts per container.
 *   It is loaded on the first line actually written (at info level a healthy shim may never log),
 *   and lines logged before that are kept (bounded) and written once it is loaded;
 * - never block: containerd may be down (no reader: EPIPE) or slow (the 64 KiB FIFO is full:
 *   EAGAIN). Writes are non-blocking and a line that cannot be written is dropped and counted.
 *
 * Per-module tracing (STYLE B.15): `TSRUNC_TRACE=exits,events` (or `*`) logs those modules' debug
 * lines even without -debug.
 */
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import type * as Winston from 'winston';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined>;

/** A leveled logger with structured fields. */
export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** True when debug lines are written (callers skip building expensive messages otherwise). */
  readonly debugEnabled: boolean;
  /** A logger for one module: its debug lines also appear when TSRUNC_TRACE names the module. */
  module(name: string): Logger;
}

export interface LogOptions {
  /** fd of the log FIFO (opened O_WRONLY|O_NONBLOCK), or undefined to discard. */
  fd: number | undefined;
  debug: boolean;
  fields: Fields;
  /** TSRUNC_TRACE. */
  trace?: string;
}

const LEVELS: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const MAX_PENDING = 1000;

/** Writes to a non-blocking fd and never waits: a line that does not fit now is dropped. */
class DroppingFdWriter extends Writable {
  dropped = 0;
  constructor(private readonly fd: number) {
    super({ decodeStrings: true });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      writeSync(this.fd, chunk);
    } catch {
      this.dropped++; // EAGAIN (full) or EPIPE (no reader): logging must not hold the shim up
    }
    done();
  }
}

/** Formats a value as logrus does: bare when simple, quoted otherwise. */
function logfmt(value: unknown): string {
  const s = String(value);
  return /^[A-Za-z0-9_.:/@+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** The daemon's root logger. */
export function createLogger(options: LogOptions): Logger {
  const traced = new Set((options.trace ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  let winston: Winston.Logger | undefined;
  const pending: { level: Level; message: string; fields: Fields }[] = [];
  let loading = false;

  const load = (): void => {
    loading = false;
    if (options.fd === undefined) {
      pending.length = 0;
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred: off the start-up path
    const w = require('winston') as typeof Winston;
    winston = w.createLogger({
      level: 'debug',
      defaultMeta: options.fields,
      format: w.format.printf((info) => {
        const { level, message, timestamp: _t, ...rest } = info;
        const fields = Object.entries(rest)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ` ${k}=${logfmt(v)}`)
          .join('');
        return `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(String(message))}${fields}`;
      }),
      transports: [new w.transports.Stream({ stream: new DroppingFdWriter(options.fd) })],
    });
    for (const entry of pending.splice(0)) winston.log(entry.level, entry.message, entry.fields);
  };

  const write = (level: Level, message: string, fields: Fields = {}): void => {
    if (winston) {
      winston.log(level, message, fields);
      return;
    }
    if (options.fd === undefined) return;
    if (pending.length < MAX_PENDING) pending.push({ level, message, fields });
    if (!loading) {
      loading = true;
      setImmediate(load); // after the work that logged, not in the middle of it
    }
  };

  const make = (module: string | undefined): Logger => {
    const debugOn = options.debug || (module !== undefined && (traced.has(module) || traced.has('*')));
    const log = (level: Level, message: string, fields?: Fields): void => {
      if (LEVELS[level] > (debugOn ? LEVELS.debug : LEVELS.info)) return;
      write(level, message, module ? { module, ...fields } : fields);
    };
    return {
      debug: (m, f) => log('debug', m, f),
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
      debugEnabled: debugOn,
      module: (name) => make(name),
    };
  };
  return make(undefined);
}

/** A logger that writes nothing (tests, short-lived actions). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debugEnabled: false,
  module: () => silentLogger,
};

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
