/**
 * The `binary://` logging driver (PROTOCOL §10.5): the shim starts the logger named by the URI and
 * hands the container's stdout and stderr to it through two pipes.
 *
 *   logger argv  = URI path, then each query key followed by its first value
 *   environment  = CONTAINER_ID and CONTAINER_NAMESPACE only (no PATH)
 *   fds          = 0/1/2 /dev/null, 3 stdout pipe (read end), 4 stderr pipe (read end),
 *                  5 "ready" pipe (write end)
 *
 * `BinaryIO.open` resolves only once the logger has written a byte to fd 5 or closed it (both make
 * our read end readable), so runc runs only when the logger is ready; a logger that cannot start,
 * or stays silent past the timeout, fails the open clearly. runc gets the write ends as the
 * container's stdout/stderr (and stdin from the stdin FIFO, if any, through a stdin-only PipeIO).
 * After runc started, the shim closes its copies of the read ends but keeps the write ends until
 * `close()`, so the logger sees EOF only when the process is deleted. `close()` then sends SIGTERM,
 * and SIGKILL if the logger is still there 12 s later; `whenClosed()` resolves when it has exited.
 *
 * In terminal mode (ConsoleIO), runc gets no fds: the console's output is written into the stdout
 * pipe through `terminalOutput()` and the stderr pipe stays silent.
 */
import { fchownSync } from 'node:fs';
import net from 'node:net';
import { type Writable } from 'node:stream';
import { type Native } from '../../native';
import { type ProcessMonitor, type Spawned } from '../reaper';
import { PipeIO, type PipeIoOptions, type RuncStdio } from './pipe-io';
import { type ProcessIO } from './types';
import { type StdioMode } from './uri';

/** The binary:// mode, as parseStdio returns it. */
export type BinaryMode = Extract<StdioMode, { kind: 'binary' }>;

/** How long the logger may take to signal readiness. */
export const READY_TIMEOUT_MS = 30_000;
/** How long `close()` waits after SIGTERM before SIGKILL (Go: 12 s). */
export const STOP_TIMEOUT_MS = 12_000;

/** What BinaryIO needs. */
export interface BinaryIoOptions {
  native: PipeIoOptions['native'] & Pick<Native, 'watchFd'>;
  /** Starts the logger, so the one exit monitor sees it. */
  monitor: ProcessMonitor;
  containerId: string;
  namespace: string;
  /** Owner of the container-side ends (IoUid/IoGid). */
  uid?: number;
  gid?: number;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/** The logger's command line and environment. */
export interface LoggerCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** Builds the logger's argv and its (only) environment from the URI and the container's identity. */
export function loggerCommand(mode: BinaryMode, ids: { containerId: string; namespace: string }): LoggerCommand {
  return { command: mode.path, args: [...mode.args], env: { CONTAINER_ID: ids.containerId, CONTAINER_NAMESPACE: ids.namespace } };
}

/** The stdio of a process whose output goes to a logging binary. */
export class BinaryIO implements ProcessIO {
  readonly runcStdio: RuncStdio = ['ignore', 'ignore', 'ignore'];
  /** Every raw fd we hold, closed in `release` only. */
  private readonly held = new Set<number>();
  private readEnds: number[] = [];
  private stdoutWriteEnd = -1;
  private terminalSocket: net.Socket | undefined;
  private stdin: PipeIO | undefined;
  private logger: Spawned | undefined;
  private loggerExited = false;
  private stopped: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly options: BinaryIoOptions,
    private readonly terminal: boolean,
  ) {}

  /** Starts the logger and resolves once it is ready; `terminal`: output comes from a console. */
  static async open(mode: BinaryMode, options: BinaryIoOptions, opts: { terminal?: boolean } = {}): Promise<BinaryIO> {
    const io = new BinaryIO(options, opts.terminal ?? false);
    try {
      await io.start(mode);
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  private async start(mode: BinaryMode): Promise<void> {
    const { native, monitor } = this.options;
    const [outR, outW] = this.hold(native.pipe());
    const [errR, errW] = this.hold(native.pipe());
    const [readyR, readyW] = this.hold(native.pipe());
    this.readEnds = [outR, errR];
    this.stdoutWriteEnd = outW;
    const cmd = loggerCommand(mode, this.options);
    try {
      this.logger = monitor.spawn(cmd.command, cmd.args, { env: cmd.env, stdio: ['ignore', 'ignore', 'ignore', outR, errR, readyW] });
    } finally {
      this.release(readyW); // the logger's copy is the only writer: its exit means EOF
    }
    const logger = this.logger;
    this.stopped = logger.exit.then(
      () => void (this.loggerExited = true),
      () => void (this.loggerExited = true),
    );
    if (logger.child.pid === undefined) {
      const err = await logger.exit.then(() => new Error('no pid'), (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      throw new Error(`failed to start logging binary ${mode.path}: ${err.message}`, { cause: err });
    }
    await this.ready(readyR, mode.path);
    this.release(readyR);
    if (this.terminal) return;
    if (mode.stdin) {
      this.stdin = PipeIO.open({ kind: 'fifo', stdin: mode.stdin, stdout: '', stderr: '' }, this.options);
      this.runcStdio[0] = this.stdin.runcStdio[0];
    }
    for (const fd of [outW, errW]) {
      if (this.options.uid !== undefined || this.options.gid !== undefined) fchownSync(fd, this.options.uid ?? -1, this.options.gid ?? -1);
    }
    this.runcStdio[1] = outW;
    this.runcStdio[2] = errW;
  }

  /** Waits until fd 5's read end is readable: a byte written, or the logger's end closed. */
  private ready(readyR: number, path: string): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    return new Promise<void>((resolve, reject) => {
      const watch = this.options.native.watchFd(readyR, () => {
        clearTimeout(timer);
        watch.close();
        resolve();
      });
      const timer = setTimeout(() => {
        watch.close();
        reject(new Error(`logging binary ${path} did not signal ready (a byte or EOF on fd 5) within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  /** The stdout pipe's write end as a stream, for a console's output (terminal mode only). */
  terminalOutput(): Writable {
    if (!this.terminalSocket) {
      const fd = this.stdoutWriteEnd;
      if (!this.held.delete(fd)) throw new Error('binary logger: stdout pipe already closed');
      // the socket owns the fd now
      const socket = new net.Socket({ fd, readable: false, writable: true });
      socket.on('error', () => socket.destroy()); // the logger died: EPIPE ends the stream
      this.terminalSocket = socket;
    }
    return this.terminalSocket;
  }

  /** runc is running: the stdin FIFO, if any, is opened now. */
  runcStarted(): void {
    this.stdin?.runcStarted();
  }

  /** After runc started: the logger holds the read ends; drop ours. */
  containerStarted(): Promise<void> {
    for (const fd of this.readEnds.splice(0)) this.release(fd);
    return this.stdin?.containerStarted() ?? Promise.resolve();
  }

  /** The logger's output ends when the pipes are closed at delete, not at the exit. */
  processExited(): void {
    // nothing to do
  }

  /** CloseIO. */
  closeStdin(): void {
    this.stdin?.closeStdin();
  }

  /** No terminal here: nothing to resize. */
  resize(): void {
    // pipes have no window size
  }

  /** The logger reads the pipes itself: nothing of ours is in flight. */
  inFlight(): undefined {
    return undefined;
  }

  /** The logger copies; there is nothing of ours to wait for. */
  drained(): Promise<void> {
    return Promise.resolve();
  }

  /** Closes the pipes (the logger sees EOF) and stops the logger: SIGTERM, SIGKILL after 12 s. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stdin?.close();
    this.terminalSocket?.destroy();
    for (const fd of [...this.held]) this.release(fd);
    const logger = this.logger;
    if (!logger || this.loggerExited) return;
    logger.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.loggerExited) logger.child.kill('SIGKILL');
    }, this.options.stopTimeoutMs ?? STOP_TIMEOUT_MS);
    void this.stopped.then(() => clearTimeout(timer));
  }

  /** Resolves once the logger has exited (after `close()`, within 12 s). */
  whenClosed(): Promise<void> {
    return this.stopped;
  }

  private hold(fds: [number, number]): [number, number] {
    for (const fd of fds) this.held.add(fd);
    return fds;
  }

  /** The one place our raw fds are closed. */
  private release(fd: number): void {
    if (!this.held.delete(fd)) return;
    try {
      this.options.native.close(fd);
    } catch {
      // already closed
    }
  }
}
