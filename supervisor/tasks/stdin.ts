/**
 * The write end of a process's stdin FIFO, held by the daemon for the life of the process:
 * `<bundle>/stdin` for a container started with `-i`, `<bundle>/<exec id>-stdin` for an exec.
 *
 * The FIFO is opened O_RDWR|O_NONBLOCK, so the open never blocks and the shim's reader never sees
 * EOF just because no client is attached: a client that detaches (or is killed) leaves the
 * process's input open, as with docker. Only `close()` (the client's input ended: `run -i` with a
 * finite stdin, or the process is gone) drops the writer. Should the daemon die, the shim's reader
 * sees EOF — a limit of holding the writer in the daemon (containerd has the same one).
 */
import { constants, existsSync, openSync } from 'node:fs';
import * as net from 'node:net';
import type { Native } from '../../native';

/** One held stdin FIFO. */
export class StdinFifo {
  private readonly socket: net.Socket;
  private closed = false;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.socket = new net.Socket({ fd, readable: false, writable: true });
    this.socket.on('error', () => {
      this.closed = true;
    });
  }

  /** Creates the FIFO (0600) when missing and opens our end. */
  static open(path: string, native: Pick<Native, 'mkfifo'>): StdinFifo {
    if (!existsSync(path)) native.mkfifo(path, 0o600);
    return new StdinFifo(path, openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
  }

  /** True once closed (or broken). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes input; resolves when the FIFO took it (back-pressure), at once when closed. */
  write(data: Uint8Array): Promise<void> {
    if (this.closed || data.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.socket.write(data)) resolve();
      else this.socket.once('drain', resolve);
      this.socket.once('close', resolve);
    });
  }

  /** Drops our writer (after what was written is flushed). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.socket.destroySoon();
  }
}

/** The held stdin FIFOs of containers, by container id; reopened after a daemon restart when needed. */
export class StdinFifos {
  private readonly held = new Map<string, StdinFifo>();
  /** Other ends held for a task's life (fifo-output.ts writers), closed by `forget`. */
  private readonly others = new Map<string, (() => void)[]>();

  constructor(private readonly native: Pick<Native, 'mkfifo'>) {}

  /** Creates and holds the FIFO of container `id`. */
  open(id: string, path: string): StdinFifo {
    this.close(id);
    const fifo = StdinFifo.open(path, this.native);
    this.held.set(id, fifo);
    return fifo;
  }

  /** The FIFO of `id`: held, or reopened when `path` exists (a restarted daemon); undefined when there is none. */
  get(id: string, path: string): StdinFifo | undefined {
    const held = this.held.get(id);
    if (held !== undefined) return held.isClosed ? undefined : held;
    if (!existsSync(path)) return undefined;
    return this.open(id, path);
  }

  /** Closes and forgets the FIFO of `id` (keeping it marked closed so it is not reopened). */
  close(id: string): void {
    this.held.get(id)?.close();
  }

  /** Holds something else of task `id` to be closed with it (e.g. output FIFO writers). */
  holdAlso(id: string, close: () => void): void {
    this.others.set(id, [...(this.others.get(id) ?? []), close]);
  }

  /** Forgets `id` entirely (its task is gone): closes its stdin and whatever else was held. */
  forget(id: string): void {
    this.held.get(id)?.close();
    this.held.delete(id);
    for (const close of this.others.get(id) ?? []) close();
    this.others.delete(id);
  }
}
