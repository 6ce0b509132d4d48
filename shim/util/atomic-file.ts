/**
 * Crash-safe small files (`address`, `shim.pid`, `options.json`): written to a unique temporary
 * name in the same directory, then renamed over the target, so a reader sees either the old content
 * or the whole new content — never a prefix, even after the writer was killed. Durable ones are
 * fsync-ed before the rename as well, to survive the machine's crash: `address` and `shim.pid`,
 * which Go's shim writes O_SYNC. `options.json` and `runtime` are not (Go's shim writes them
 * without a sync either): they are read only by `delete` after a dead shim, and a machine that
 * crashed has no runc state or processes left to clean up. Under containerd's default state dir
 * (/run, a tmpfs) a sync is free; on a disk it is ~0.5–1 ms per file.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Atomically replaces `path` with `data` (mode applied at creation, subject to the umask);
 * `durable`: synced to disk before the rename.
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, { durable = true }: { durable?: boolean } = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    if (durable) fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
