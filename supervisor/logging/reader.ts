/**
 * Reading a container's captured output (daemon side): every rotated file, oldest first, then the
 * current one — and, when following, whatever is appended next, across rotations: at the end of the
 * file we hold, a different inode at `container.log` means the driver rotated; our open descriptor
 * still reads the renamed file to its end before we move on to the new one. Lines still being
 * written (no newline yet) are kept until complete.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { LOG_FILE, type LogRecord, parseRecord, rotatedFiles } from './format';

/** Following: when to stop, and how to be woken early. */
export interface FollowOptions {
  /** Checked at the end of the data: true ends the stream. */
  readonly shouldStop: () => boolean;
  /** Aborts the reading (client gone). */
  readonly signal: AbortSignal;
  /** Longest wait between two looks at the file (fs.watch wakes earlier). */
  readonly pollMs?: number;
  /** Registers an extra wake-up source (e.g. the container's state changes); returns its remover. */
  readonly onWake?: (wake: () => void) => () => void;
}

const CHUNK = 64 * 1024;

/** One open file and the undecoded tail of its last read. */
class Cursor {
  private pending = '';
  constructor(
    readonly fd: number,
    readonly ino: number,
  ) {}

  /** Reads what is available now; returns the complete records in it (synchronous, bounded by `max`). */
  read(max = 16 * CHUNK): LogRecord[] {
    const out: LogRecord[] = [];
    const buf = Buffer.alloc(CHUNK);
    let total = 0;
    while (total < max) {
      const n = readSync(this.fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      const text = this.pending + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines) {
        const record = parseRecord(line);
        if (record !== undefined) out.push(record);
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function openCursor(path: string): Cursor | undefined {
  try {
    const fd = openSync(path, 'r');
    return new Cursor(fd, fstatSync(fd).ino);
  } catch {
    return undefined;
  }
}

function inodeAt(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Every record in `dir` now (no following). */
export async function* readLog(dir: string): AsyncGenerator<LogRecord> {
  for (const path of [...rotatedFiles(dir), join(dir, LOG_FILE)]) {
    const cursor = openCursor(path);
    if (cursor === undefined) continue;
    try {
      for (let batch = cursor.read(); batch.length > 0; batch = cursor.read()) {
        yield* batch;
        await Promise.resolve();
      }
    } finally {
      cursor.close();
    }
  }
}

/** Every record in `dir`, then new ones as they are written, until `shouldStop()` or the signal. */
export async function* followLog(dir: string, options: FollowOptions): AsyncGenerator<LogRecord> {
  const current = join(dir, LOG_FILE);
  for (const path of rotatedFiles(dir)) {
    const cursor = openCursor(path);
    if (cursor === undefined) continue;
    try {
      for (let batch = cursor.read(); batch.length > 0; batch = cursor.read()) yield* batch;
    } finally {
      cursor.close();
    }
  }
  const waiter = new Waiter(dir, options);
  let cursor = openCursor(current);
  try {
    while (!options.signal.aborted) {
      const batch = cursor?.read() ?? [];
      if (batch.length > 0) {
        yield* batch;
        continue;
      }
      const ino = inodeAt(current);
      if (ino !== undefined && ino !== cursor?.ino) {
        // rotated (or created): the old descriptor is read to its end above; switch
        cursor?.close();
        cursor = openCursor(current);
        continue;
      }
      if (options.shouldStop()) return;
      await waiter.wait();
    }
  } finally {
    cursor?.close();
    waiter.close();
  }
}

/** Sleeps until the directory changes, a wake-up source fires, the poll interval passes or the signal aborts. */
class Waiter {
  private wakeUp: (() => void) | undefined;
  private readonly cleanups: (() => void)[] = [];

  constructor(dir: string, options: FollowOptions) {
    const wake = (): void => {
      const w = this.wakeUp;
      this.wakeUp = undefined;
      w?.();
    };
    try {
      const watcher = watch(dir, { persistent: false }, wake);
      watcher.on('error', () => undefined);
      this.cleanups.push(() => watcher.close());
    } catch {
      // no directory yet: polling only
    }
    if (options.onWake !== undefined) this.cleanups.push(options.onWake(wake));
    options.signal.addEventListener('abort', wake);
    this.cleanups.push(() => options.signal.removeEventListener('abort', wake));
    this.pollMs = options.pollMs ?? 500;
  }

  private readonly pollMs: number;

  wait(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, this.pollMs);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    for (const c of this.cleanups) c();
  }
}
