/**
 * The task bundle's `log` FIFO (PROTOCOL §3.5): created by the supervisor before `start` and held
 * open O_RDWR|O_NONBLOCK, so the shim's write-only open never blocks and its writes never fail while
 * the supervisor lives; everything read is copied, line by line, into the daemon's log. After a
 * daemon restart it is reopened for every shim still alive (the FIFO stays in the bundle).
 */
import { constants, existsSync, openSync } from 'node:fs';
import * as net from 'node:net';
import type { Native } from '../../native';
import type { Logger } from '../util/log';

/** Longest line kept; longer shim log lines are cut. */
const MAX_LINE = 16 * 1024;

/** One held-open log FIFO. */
export class ShimLogFifo {
  private pending = '';

  private constructor(
    private readonly socket: net.Socket,
    private readonly log: Logger,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => log.debug('log fifo error', { err }));
  }

  /** Creates the FIFO (mode 0700, as containerd does) if missing, and opens it O_RDWR|O_NONBLOCK. */
  static open(path: string, native: Pick<Native, 'mkfifo'>, log: Logger): ShimLogFifo {
    if (!existsSync(path)) native.mkfifo(path, 0o700);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    const socket = new net.Socket({ fd, readable: true, writable: false });
    socket.unref(); // never the reason the daemon stays up
    return new ShimLogFifo(socket, log);
  }

  /** Stops reading and closes the FIFO. Idempotent. */
  close(): void {
    if (this.pending !== '') this.log.info(this.pending);
    this.pending = '';
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    const text = this.pending + chunk;
    const lines = text.split('\n');
    this.pending = (lines.pop() ?? '').slice(0, MAX_LINE);
    for (const line of lines) if (line.trim() !== '') this.log.info(line.slice(0, MAX_LINE));
  }
}
