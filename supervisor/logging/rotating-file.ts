/**
 * An append-only, size-capped, rotated file: `container.log` is written until the next record would
 * take it past `maxSize`, then renamed to `container.log.1` (`.1` → `.2`, …; the oldest beyond
 * `maxFiles` is deleted) and a new `container.log` started. Records are never split across files,
 * so a record larger than `maxSize` gets a file of its own. Writes are synchronous `write(2)`s: once
 * `write` returns the data is in the file (the page cache), whatever happens to this process next.
 */
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { rotatedName } from './format';

/** Limits: bytes per file and files kept (the current one included). */
export interface RotationLimits {
  readonly maxSize: number;
  readonly maxFiles: number;
}

/** The rotating log file of one container. */
export class RotatingFile {
  private fd: number;
  private size: number;

  constructor(
    private readonly dir: string,
    private readonly limits: RotationLimits,
  ) {
    this.fd = this.openCurrent();
    this.size = fstatSync(this.fd).size;
  }

  /** Appends `text` (whole records), rotating first when it would not fit. */
  write(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    if (this.size + bytes.length > this.limits.maxSize && text.indexOf('\n') < text.length - 1) {
      // several records that do not fit together: group them so that no file exceeds the limit
      let group = '';
      let groupSize = 0;
      for (const record of text.split(/(?<=\n)/)) {
        const n = Buffer.byteLength(record, 'utf8');
        if (group !== '' && this.size + groupSize + n > this.limits.maxSize) {
          this.writeRecords(Buffer.from(group, 'utf8'));
          group = '';
          groupSize = 0;
        }
        group += record;
        groupSize += n;
      }
      if (group !== '') this.writeRecords(Buffer.from(group, 'utf8'));
      return;
    }
    this.writeRecords(bytes);
  }

  private writeRecords(bytes: Buffer): void {
    if (this.size > 0 && this.size + bytes.length > this.limits.maxSize) this.rotate();
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.size += bytes.length;
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }

  private openCurrent(): number {
    return openSync(join(this.dir, rotatedName(0)), 'a', 0o640);
  }

  private rotate(): void {
    closeSync(this.fd);
    const keep = Math.max(1, this.limits.maxFiles);
    rmSync(join(this.dir, rotatedName(keep - 1 === 0 ? 0 : keep - 1)), { force: true });
    for (let n = keep - 2; n >= 0; n--) {
      try {
        renameSync(join(this.dir, rotatedName(n)), join(this.dir, rotatedName(n + 1)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.fd = this.openCurrent();
    this.size = 0;
  }
}
