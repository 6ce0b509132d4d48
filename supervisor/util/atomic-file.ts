/**
 * Crash-safe file replacement: the new content goes to a unique temporary file in the same
 * directory, which is fsync-ed, closed and renamed over the target, and then the directory itself
 * is fsync-ed so the rename is durable. After a power cut at any point a reader finds the old file
 * or the whole new one — never a prefix, never nothing where something was.
 *
 * The file operations are injected (`FsOps`) so a unit test can cut the power between any two steps
 * of a model file system and check that claim (test/unit/supervisor/store.test.ts).
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The file-system steps an atomic write is made of. */
export interface FsOps {
  /** open(O_WRONLY|O_CREAT|O_EXCL) */
  openExclusive(path: string, mode: number): number;
  /** Writes all of `data` at the current position. */
  write(fd: number, data: Buffer): void;
  fsync(fd: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** fsync of a directory (makes renames and unlinks in it durable). */
  fsyncDir(dir: string): void;
  readdir(dir: string): string[];
  readFile(path: string): Buffer;
  mkdirp(dir: string, mode: number): void;
}

/** The real file system. */
export const realFsOps: FsOps = {
  openExclusive: (path, mode) => fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode),
  write: (fd, data) => {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
  },
  fsync: (fd) => fs.fsyncSync(fd),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.unlinkSync(path),
  fsyncDir: (dir) => {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  readdir: (dir) => fs.readdirSync(dir),
  readFile: (path) => fs.readFileSync(path),
  mkdirp: (dir, mode) => {
    fs.mkdirSync(dir, { recursive: true, mode });
  },
};

/** Prefix of the temporary files of atomic writes; a loader skips (and may remove) them. */
export const TEMP_PREFIX = '.tmp-';

let counter = 0;

/** Atomically replaces `path` with `data`: temp file + fsync + rename + directory fsync. */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600, ops: FsOps = realFsOps): void {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${basename(path)}-${process.pid}-${++counter}`);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = ops.openExclusive(tmp, mode);
  try {
    ops.write(fd, bytes);
    ops.fsync(fd);
  } catch (err) {
    ops.close(fd);
    unlinkQuietly(ops, tmp);
    throw err;
  }
  ops.close(fd);
  try {
    ops.rename(tmp, path);
  } catch (err) {
    unlinkQuietly(ops, tmp);
    throw err;
  }
  ops.fsyncDir(dir);
}

/** Removes `path` durably (unlink + directory fsync); a missing file is not an error. */
export function removeFileDurably(path: string, ops: FsOps = realFsOps): void {
  try {
    ops.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  ops.fsyncDir(dirname(path));
}

function unlinkQuietly(ops: FsOps, path: string): void {
  try {
    ops.unlink(path);
  } catch {
    // already gone, or the file system is failing: the loader skips temp files anyway
  }
}
