/**
 * Stdio of a process with a terminal (PROTOCOL §10.4): runc makes the pty inside the container and
 * sends us its master over a console socket; we copy stdin FIFO → master and master → stdout (a
 * FIFO with its keep-open reader, the binary:// logger's stdout pipe, a file:// log, or nothing).
 * A terminal has no stderr.
 *
 * Lifecycle, in the order the process code calls it:
 *   1. `ConsoleIO.open(mode)` — the console socket, the client's FIFOs (or the logger, ready), before
 *      runc runs; runc gets `--console-socket` and /dev/null as its own stdio;
 *   2. `containerStarted()` — after runc create/exec returned: waits for the client to read the
 *      stdout FIFO if it had not opened it yet (fifo.ts), receives the master (30 s limit), then
 *      starts both copies;
 *   3. `inFlight(limits)` — the process was reaped: the master is read until empty, the output
 *      ended, and the wait lasts until the client has read its FIFO (delivery.ts), before the exit
 *      is applied; `processExited()` — the exit was applied: output ends once the master is empty;
 *   4. `resize`, `closeStdin` (drops the keep-open stdin writer; once every client writer is gone
 *      too, the process reads EOF: PtyMaster writes ^D — the terminal itself stays up);
 *   5. `drained(ms)`, `close()` — as PipeIO; the master is closed by its PtyMaster, once.
 */
import { type Socket } from 'node:net';
import { type Writable } from 'node:stream';
import { type Native } from '../../native';
import { openAppendFile } from './append-file';
import { BinaryIO, type BinaryIoOptions } from './binary-logger';
import { ConsoleSocket, RECEIVE_TIMEOUT_MS } from './console-socket';
import { type OutputFifoFds, closeFd, closeOutputFifoFds, openInputFifo, openOutputFifoFdForClient, openOutputFifoFdIfRead, outputFifoSocket } from './fifo';
import { PtyMaster } from './pty-master';
import { awaitDelivery, unreadInFifo } from './delivery';
import { type DeliveryLimits, type DeliveryOutcome, type ProcessIO } from './types';
import { type StdioMode } from './uri';

/** What ConsoleIO needs; the logger options are used for binary:// output only. */
export interface ConsoleIoOptions extends Omit<BinaryIoOptions, 'native'> {
  native: Native;
  /** Where the console socket's directory is made (default $XDG_RUNTIME_DIR or /tmp). */
  socketRoot?: string;
  /** How long containerStarted waits for runc to send the master. */
  receiveTimeoutMs?: number;
  /** How long opening waits for a client to read the stdout FIFO (fifo.ts: CLIENT_READER_PATIENCE_MS). */
  clientPatienceMs?: number;
  /** Where a client that never came to read is reported. */
  warn?: (message: string, fields: Record<string, string | number>) => void;
}

/** The terminal stdio of one process. */
export class ConsoleIO implements ProcessIO {
  /** runc's own stdio: the container's goes through the terminal. */
  readonly runcStdio: ['ignore', 'ignore', 'ignore'] = ['ignore', 'ignore', 'ignore'];
  readonly consoleSocket: string;
  private master: PtyMaster | undefined;
  private output: Writable | undefined;
  private input: Socket | undefined;
  private keepOpenStdinWriter: number | undefined;
  private keepOpenStdoutReader: number | undefined;
  /** The wait for a client to read the stdout FIFO, when it had not opened it at `open`. */
  private stdoutClient: Promise<void> | undefined;
  private logger: BinaryIO | undefined;
  private exited = false;
  private size: { width: number; height: number } | undefined;
  private closed = false;

  private constructor(
    private readonly options: ConsoleIoOptions,
    private readonly socket: ConsoleSocket,
  ) {
    this.consoleSocket = socket.path;
  }

  /** Opens the console socket and the client side of `mode` (starting and awaiting a logger). */
  static async open(mode: StdioMode, options: ConsoleIoOptions): Promise<ConsoleIO> {
    const io = new ConsoleIO(options, ConsoleSocket.open(options.native, options.socketRoot));
    try {
      await io.setUp(mode);
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  private async setUp(mode: StdioMode): Promise<void> {
    switch (mode.kind) {
      case 'null':
        return; // output is read and discarded, so the process never blocks on its terminal
      case 'fifo':
        if (mode.stdin) this.openStdin(mode.stdin);
        if (mode.stdout) {
          const fds = openOutputFifoFdIfRead(mode.stdout);
          if (fds) this.useStdoutFifo(fds);
          else {
            this.stdoutClient = this.waitForClient(mode.stdout); // containerStarted awaits it
            this.stdoutClient.catch(() => undefined); // reported there; never an unhandled rejection
          }
        }
        return;
      case 'file':
        if (mode.stdin) this.openStdin(mode.stdin);
        this.output = openAppendFile(mode.path);
        return;
      case 'binary':
        if (mode.stdin) this.openStdin(mode.stdin);
        // its stdout pipe becomes the output when the master arrives
        this.logger = await BinaryIO.open({ ...mode, stdin: '' }, this.options, { terminal: true });
        return;
    }
  }

  private useStdoutFifo(fds: OutputFifoFds): void {
    const fifo = outputFifoSocket(fds);
    this.keepOpenStdoutReader = fifo.keepOpenReader;
    this.output = quiet(fifo.writer);
    // the keep-open reader stays until close(): inFlight counts what the client has not read through it
  }

  /** Opens the stdout FIFO once its client reads it (fifo.ts), or after the wait gave up. */
  private async waitForClient(path: string): Promise<void> {
    const fifo = await openOutputFifoFdForClient(path, { cancelled: () => this.closed, patienceMs: this.options.clientPatienceMs, warn: this.options.warn });
    if (!fifo) return; // closed while waiting
    if (this.closed) closeOutputFifoFds(fifo);
    else this.useStdoutFifo(fifo);
  }

  private openStdin(path: string): void {
    const fifo = openInputFifo(path);
    this.keepOpenStdinWriter = fifo.keepOpenWriter;
    this.input = quiet(fifo.reader);
    this.input.pause(); // until the master is there
  }

  /** Nothing to open while runc runs: the FIFOs were opened with the console socket. */
  runcStarted(): void {
    // the master arrives on the socket; containerStarted receives it
  }

  /** Receives the pty master from runc and starts copying. */
  async containerStarted(): Promise<void> {
    await this.stdoutClient;
    const received = await this.socket.receive(this.options.receiveTimeoutMs ?? RECEIVE_TIMEOUT_MS);
    if (this.closed) {
      try {
        this.options.native.close(received.fd);
      } catch {
        // nothing to release
      }
      return;
    }
    // from here to the PtyMaster taking the fd, nothing may await (a close() in between would leak it)
    if (this.logger) {
      this.output = this.logger.terminalOutput();
      void this.logger.containerStarted(); // closes our copies of its read ends; never rejects
    }
    const master = new PtyMaster(this.options.native, received.fd, this.output);
    this.master = master;
    if (this.size) master.resize(this.size);
    if (this.input) master.attachInput(this.input); // resumes it
    if (this.exited) master.processExited();
  }

  /** The process exited: end output once the master is empty. */
  processExited(): void {
    this.exited = true;
    this.master?.processExited();
  }

  /** CloseIO: the process reads EOF (^D) once every client writer is gone too; the terminal stays up. */
  closeStdin(): void {
    if (this.keepOpenStdinWriter === undefined) return;
    closeFd(this.keepOpenStdinWriter);
    this.keepOpenStdinWriter = undefined;
  }

  /** ResizePty (before the master arrives, applied on arrival). */
  resize(size: { width: number; height: number }): void {
    this.size = size;
    this.master?.resize(size);
  }

  /**
   * The process is gone: read the master until it is empty and end the output (what processExited
   * does; it repeats it when the exit is applied), then wait for the client to read the FIFO.
   */
  inFlight(limits: DeliveryLimits): Promise<DeliveryOutcome> | undefined {
    const master = this.master;
    if (!master) return undefined; // no terminal yet: nothing was written to it
    master.processExited();
    return awaitDelivery(
      {
        delivered: () => this.closed || (master.outputOver && this.unreadOutput() === 0),
        progress: () => `${master.bytesRead}/${this.unreadOutput()}`,
        unread: () => this.unreadOutput(),
        clientRead: () => (this.keepOpenStdoutReader === undefined ? 0 : Math.max(0, master.bytesRead - this.unreadOutput())),
        copiesOver: () => master.outputDone,
      },
      limits,
    );
  }

  /** What the output's client has not read: still buffered in our writer, or in its FIFO. */
  private unreadOutput(): number {
    const buffered = this.output && !this.output.destroyed ? this.output.writableLength : 0;
    return buffered + unreadInFifo(this.options.native, this.keepOpenStdoutReader);
  }

  /** Resolves when the terminal's output has been copied out, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    if (!this.master) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.master.outputDone, timeout]);
    clearTimeout(timer);
  }

  /** Closes the socket, the master (once, in PtyMaster), the FIFOs, and stops a logger. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.master?.close();
    this.input?.destroy();
    this.output?.destroy();
    this.closeStdin();
    this.releaseStdoutReader();
    this.logger?.close();
  }

  /** Resolves once a logger has exited (immediately without one). */
  whenClosed(): Promise<void> {
    return this.logger?.whenClosed() ?? Promise.resolve();
  }

  private releaseStdoutReader(): void {
    if (this.keepOpenStdoutReader === undefined) return;
    closeFd(this.keepOpenStdoutReader);
    this.keepOpenStdoutReader = undefined;
  }
}

/** EPIPE, ECONNRESET and the like end a stream; they never crash the shim. */
function quiet<S extends Socket>(socket: S): S {
  socket.on('error', () => socket.destroy());
  return socket;
}
