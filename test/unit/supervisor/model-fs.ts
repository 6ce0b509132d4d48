/**
 * A model file system for crash tests of the record store: it knows which bytes and which directory
 * entries are durable (fsync'd) and which are only in the page cache, can "crash" before any step,
 * and can "cut the power": every file keeps only its durable content, and the directory keeps its
 * durable entries plus any prefix of the entry changes made since (journaling file systems persist
 * directory operations in order, data only when synced).
 */
import type { FsOps } from '../../../supervisor/util/atomic-file';

/** Thrown by the model at the planned crash point. */
export class Crash extends Error {
  constructor(readonly step: number) {
    super(`crash before step ${step}`);
  }
}

interface Inode {
  volatile: Buffer;
  durable: Buffer;
}

type DirOp = { op: 'link'; name: string; inode: Inode } | { op: 'unlink'; name: string };

/** One directory (flat: the store keeps one) and its files. */
export class ModelFs implements FsOps {
  private entries = new Map<string, Inode>();
  private durableEntries = new Map<string, Inode>();
  private pending: DirOp[] = [];
  private readonly fds = new Map<number, Inode>();
  private nextFd = 3;
  /** Steps taken so far (each mutating call is one). */
  steps = 0;
  /** Crash before this step (1-based); 0 = never. */
  crashAt = 0;

  private step(): void {
    this.steps++;
    if (this.crashAt !== 0 && this.steps === this.crashAt) throw new Crash(this.steps);
  }

  private name(path: string): string {
    return path.slice(path.lastIndexOf('/') + 1);
  }

  private link(name: string, inode: Inode): void {
    this.entries.set(name, inode);
    this.pending.push({ op: 'link', name, inode });
  }

  private drop(name: string): void {
    this.entries.delete(name);
    this.pending.push({ op: 'unlink', name });
  }

  openExclusive(path: string): number {
    this.step();
    const name = this.name(path);
    if (this.entries.has(name)) throw Object.assign(new Error(`EEXIST: ${path}`), { code: 'EEXIST' });
    const inode: Inode = { volatile: Buffer.alloc(0), durable: Buffer.alloc(0) };
    this.link(name, inode);
    const fd = this.nextFd++;
    this.fds.set(fd, inode);
    return fd;
  }

  write(fd: number, data: Buffer): void {
    this.step();
    const inode = this.fds.get(fd);
    if (inode === undefined) throw new Error('EBADF');
    inode.volatile = Buffer.concat([inode.volatile, data]);
  }

  fsync(fd: number): void {
    this.step();
    const inode = this.fds.get(fd);
    if (inode === undefined) throw new Error('EBADF');
    inode.durable = Buffer.from(inode.volatile);
  }

  close(fd: number): void {
    this.step();
    this.fds.delete(fd);
  }

  rename(from: string, to: string): void {
    this.step();
    const inode = this.entries.get(this.name(from));
    if (inode === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
    this.drop(this.name(from));
    this.link(this.name(to), inode);
  }

  unlink(path: string): void {
    this.step();
    if (!this.entries.has(this.name(path))) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    this.drop(this.name(path));
  }

  fsyncDir(): void {
    this.step();
    this.durableEntries = new Map(this.entries);
    this.pending = [];
  }

  readdir(): string[] {
    return [...this.entries.keys()];
  }

  readFile(path: string): Buffer {
    const inode = this.entries.get(this.name(path));
    if (inode === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return inode.volatile;
  }

  mkdirp(): void {
    // one flat directory
  }

  /** How many power-cut outcomes there are now (0..pending directory changes persisted). */
  get outcomes(): number {
    return this.pending.length + 1;
  }

  /** A new model after a power cut in which the first `persisted` pending directory changes made it to disk. */
  powerCut(persisted: number): ModelFs {
    const after = new ModelFs();
    const entries = new Map(this.durableEntries);
    for (const op of this.pending.slice(0, persisted)) {
      if (op.op === 'link') entries.set(op.name, op.inode);
      else entries.delete(op.name);
    }
    for (const [name, inode] of entries) {
      const copy: Inode = { volatile: Buffer.from(inode.durable), durable: Buffer.from(inode.durable) };
      after.entries.set(name, copy);
      after.durableEntries.set(name, copy);
    }
    return after;
  }

  /** A new model after the process died but the machine did not (everything written is there). */
  processCrash(): ModelFs {
    const after = new ModelFs();
    for (const [name, inode] of this.entries) {
      const copy: Inode = { volatile: Buffer.from(inode.volatile), durable: Buffer.from(inode.durable) };
      after.entries.set(name, copy);
      after.durableEntries.set(name, copy);
    }
    return after;
  }
}
