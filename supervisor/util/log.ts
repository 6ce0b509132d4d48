/**
 * The daemon's log: one line per message on stderr, `time level [module] message key=value…`.
 * Debug lines only with `--debug` (or TSRUNC_DEBUG=1).
 */

/** Log levels, in increasing severity. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

/** A module's logger. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** The same sink under another module name. */
  child(module: string): Logger;
}

/** Where log lines go (stderr by default; tests capture them). */
export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(line);
};

/** A logger for `module`; debug lines are dropped unless `debug`. */
export function createLogger(module: string, options: { debug?: boolean; sink?: LogSink } = {}): Logger {
  const debug = options.debug ?? process.env['TSRUNC_DEBUG'] === '1';
  const sink = options.sink ?? stderrSink;
  const emit = (level: Level, message: string, fields?: Record<string, unknown>): void => {
    if (level === 'debug' && !debug) return;
    const extra = fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('');
    sink(`${new Date().toISOString()} ${level} [${module}] ${message}${extra}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => createLogger(name, { debug, sink }),
  };
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w./:@-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
