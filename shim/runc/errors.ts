/**
 * What runc failures mean. runc writes its own error to `--log <bundle>/log.json` (JSON lines with
 * `level` and `msg`); the Go shim reports the last error-level message. The log is appended to by
 * every invocation, so we read only what this invocation wrote (from the offset before it ran).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A runc invocation that did not succeed. */
export class RuncError extends Error {
  override readonly name = 'RuncError';
  constructor(
    /** The runc subcommand, e.g. `create`. */
    readonly command: string,
    /** Exit status (code, or 128+signal). */
    readonly status: number,
    /** stdout+stderr of the invocation. */
    readonly output: string,
    /** The last error-level message runc logged during the invocation, if any. */
    readonly logError: string | undefined,
  ) {
    super(logError ?? `exit status ${status}: ${output.trim()}`);
  }

  /** runc's own words: the logged error, else its output. */
  get detail(): string {
    return this.message;
  }
}

/** The size of `path` now (0 when missing): where this invocation's log lines will start. */
export function logOffset(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** The last error-level `msg` runc logged in `path` after `offset`. */
export function lastLogError(path: string, offset: number): string | undefined {
  let text: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.min(offset, size);
      const buf = Buffer.alloc(Math.min(size - start, 1 << 20));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (entry.level === 'error' && typeof entry.msg === 'string') last = entry.msg.trim();
    } catch {
      // a partial or foreign line: ignore
    }
  }
  return last;
}

/** runc says the process has already exited (kill of a stopped container). */
export function isProcessDone(text: string): boolean {
  return /os: process already finished|container not running|no such process|\besrch\b/i.test(text);
}

/** runc says the container does not exist (deleted behind our back, or never created). */
export function isNotExist(text: string): boolean {
  return /does not exist/i.test(text);
}
