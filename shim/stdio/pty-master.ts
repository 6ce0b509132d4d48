/**
 * The pty master of a terminal process, driven with non-blocking reads and writes under one
 * readiness watch (native.watchFd): master → output stream, input stream → master, both with
 * back-pressure.
 *
 * Why not tty.ReadStream/tty.WriteStream: libuv opens a pty *master* in "blocking writes" mode
 * (uv_tty_init can only reopen a slave non-blocking), so a tty.WriteStream write blocks the whole
 * event loop as soon as the slave's input queue is full — a container that does not read its
 * terminal while a client types (or pipes) into it would freeze the shim (measured: 1 MiB into a
 * master with no reader never returns). And a tty.ReadStream closes the fd on its first EIO,
 * while EIO here only means "no slave open right now". So the master is set O_NONBLOCK and read and
 * written with fs.readSync/fs.writeSync, which run on the main thread (no pool thread) and never
 * block on a non-blocking fd.
 *
 * End of output: while the process lives, EIO (no slave open) or a wake-up that moves nothing stops
 * the watch (level-triggered epoll would report the hang-up forever) and retries on a backing-off
 * timer (50 ms … 1 s). Once `processExited()` is called, the master is read until it is empty
 * (EAGAIN) or EIO — the kernel flushes pending slave output before answering either — and the
 * output stream is then ended.
 *
 * End of input: a terminal has no EOF of its own; a reader sees one when the line discipline gets
 * the VEOF character (^D) at the start of a line. So EOF on the input stream (the client closed
 * stdin and CloseIO dropped our keep-open writer) is delivered as ^D — twice when the last line was
 * not terminated (the first only pushes that partial line) — and input then ends. The terminal
 * stays up: the process can still write (the Go shim closes the whole console here, which hangs up
 * the process and loses what it would print after its input ended).
 *
 * The master fd is owned here and closed exactly once, in `close()`.
 */
import { readSync, writeSync } from 'node:fs';
import { type Readable, type Writable } from 'node:stream';
import { type FdEvents, type FdWatch, type Native } from '../../native';

/** VEOF (^D), the default `stty eof`; the line discipline turns it into a read of 0 bytes. */
const VEOF = 0x04;
/** Bytes per read; a pty hands out at most a few KiB per read anyway. */
const READ_SIZE = 64 * 1024;
/** Reads per wake-up before yielding to the event loop (level-triggered: we come back). */
const READS_PER_WAKEUP = 32;
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1000;

/** read(2)/write(2) on an fd; fs.readSync/fs.writeSync unless a test injects its own. */
export interface FdIo {
  read(fd: number, buffer: Buffer): number;
  write(fd: number, buffer: Buffer): number;
}

const fsIo: FdIo = {
  read: (fd, buffer) => readSync(fd, buffer, 0, buffer.length, null),
  write: (fd, buffer) => writeSync(fd, buffer, 0, buffer.length),
};

/** What the master needs from the native layer. */
export type PtyMasterNative = Pick<Native, 'watchFd' | 'setNonBlocking' | 'setWindowSize' | 'close'>;

/** What a burst of reads did: whether it moved bytes, and whether it stopped because the master was empty. */
interface ReadResult {
  progress: boolean;
  /** true: stopped at EAGAIN/EIO (nothing more to read now); false: stopped by back-pressure or budget. */
  empty: boolean;
}

/** The one way the master fd is closed. */
function closeMaster(native: Pick<Native, 'close'>, fd: number): void {
  try {
    native.close(fd);
  } catch {
    // already closed
  }
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** A pty master copying to `output` (undefined: read and discard) and from an attached input. */
export class PtyMaster {
  /** Resolves when output has ended (after the exit, once the master is empty) or close(). */
  readonly outputDone: Promise<void>;
  private resolveOutput!: () => void;
  private readonly watch: FdWatch;
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);
  private output: Writable | undefined;
  private outputPaused = false;
  private outputEnded = false;
  private input: Readable | undefined;
  private pending: Buffer[] = [];
  private inputEnded = false;
  /** The last byte received on the input (0x0a: the line is complete). */
  private lastInputByte: number | undefined;
  private exited = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;
  private closed = false;
  private bytesOut = 0;

  /** Takes ownership of `fd` (made non-blocking here) and starts copying its output. */
  constructor(
    private readonly native: PtyMasterNative,
    readonly fd: number,
    output: Writable | undefined,
    private readonly io: FdIo = fsIo,
  ) {
    this.outputDone = new Promise((resolve) => (this.resolveOutput = resolve));
    try {
      native.setNonBlocking(fd, true);
    } catch (err) {
      closeMaster(native, fd); // ours from the start: a master we cannot drive is not leaked
      throw err;
    }
    this.output = output;
    output?.on('drain', () => this.resumeOutput());
    // the client or logger went away: keep draining the terminal so the process never blocks on it
    output?.once('close', () => {
      this.output = undefined;
      this.resumeOutput();
    });
    this.watch = native.watchFd(fd, (events) => this.onEvent(events), { readable: true });
  }

  /** Bytes read from the master so far (what the process wrote to its terminal). */
  get bytesRead(): number {
    return this.bytesOut;
  }

  /** True once reading has ended: all the process wrote was handed to the output, which may still be flushing it. */
  get outputOver(): boolean {
    return this.outputEnded;
  }

  /** Copies `input` into the master until it ends (EOF ends input only). */
  attachInput(input: Readable): void {
    this.input = input;
    input.on('data', (chunk: Buffer) => {
      if (chunk.length === 0) return;
      this.lastInputByte = chunk[chunk.length - 1];
      this.pending.push(chunk);
      this.flushInput();
      if (this.pending.length > 0) input.pause();
      this.updateInterest();
    });
    input.once('end', () => {
      this.inputEnded = true;
      const complete = this.lastInputByte === undefined || this.lastInputByte === 0x0a || this.lastInputByte === 0x0d;
      this.pending.push(Buffer.from(complete ? [VEOF] : [VEOF, VEOF]));
      this.flushInput(); // ends the input once ^D is written
      this.updateInterest();
    });
    input.once('close', () => (this.inputEnded = true));
    input.resume();
  }

  /** ResizePty: TIOCSWINSZ on the master. */
  resize(size: { width: number; height: number }): void {
    if (!this.closed) this.native.setWindowSize(this.fd, { rows: size.height, cols: size.width });
  }

  /** The process has exited: read what is left, then end the output. */
  processExited(): void {
    if (this.exited || this.closed) return;
    this.exited = true;
    this.stopRetry();
    this.drainAfterExit();
  }

  /** Stops everything and closes the master. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopRetry();
    this.watch.close(); // before its fd
    closeMaster(this.native, this.fd);
    this.endInput();
    this.finishOutput();
  }

  private onEvent(events: FdEvents): void {
    if (this.closed) return;
    const none = !events.readable && !events.writable && !events.disconnect;
    let read: ReadResult = { progress: false, empty: false };
    let wrote = false;
    if (events.readable || events.disconnect || none) read = this.readBurst();
    if ((events.writable || none) && this.pending.length > 0) wrote = this.flushInput();
    if (this.exited) {
      if (read.empty) this.endOutput();
    } else if (read.progress || wrote) {
      this.retryMs = RETRY_FIRST_MS;
    } else {
      this.startRetry(); // a hang-up (no slave) or a spurious wake-up: do not spin on it
      return;
    }
    this.updateInterest();
  }

  /** Reads until EAGAIN/EIO (EIO: no slave open), back-pressure, or the per-wake-up budget. */
  private readBurst(): ReadResult {
    let progress = false;
    for (let i = 0; i < READS_PER_WAKEUP && !this.outputPaused && !this.outputEnded; i++) {
      let n: number;
      try {
        n = this.io.read(this.fd, this.buffer);
      } catch (err) {
        if (errCode(err) !== 'EAGAIN' && errCode(err) !== 'EIO') this.endOutput(); // the master itself failed
        return { progress, empty: true };
      }
      if (n === 0) return { progress, empty: true };
      progress = true;
      this.bytesOut += n;
      const chunk = Buffer.from(this.buffer.subarray(0, n));
      if (this.output && !this.output.write(chunk)) this.outputPaused = true;
    }
    return { progress, empty: false };
  }

  /** Writes pending input until EAGAIN; resumes or ends the input when all is written. Returns whether bytes moved. */
  private flushInput(): boolean {
    let progress = false;
    while (this.pending.length > 0) {
      const chunk = this.pending[0] as Buffer;
      let n: number;
      try {
        n = this.io.write(this.fd, chunk);
      } catch (err) {
        if (errCode(err) !== 'EAGAIN') this.endInput(); // the terminal refuses input for good
        return progress;
      }
      progress = true;
      if (n < chunk.length) this.pending[0] = chunk.subarray(n);
      else this.pending.shift();
    }
    if (this.inputEnded) this.endInput();
    else this.input?.resume();
    return progress;
  }

  private endInput(): void {
    this.pending = [];
    const input = this.input;
    this.input = undefined;
    input?.destroy();
  }

  private resumeOutput(): void {
    if (!this.outputPaused) return;
    this.outputPaused = false;
    if (this.exited) this.drainAfterExit();
    else this.updateInterest();
  }

  private drainAfterExit(): void {
    if (this.closed || this.outputEnded) return;
    const read = this.readBurst();
    if (read.empty) this.endOutput();
    else if (!this.outputPaused) this.updateInterest(); // budget used up: the watch brings us back
    // else: continues on 'drain'
  }

  /** What the watch waits for: readable while output may flow, writable while input is pending. */
  private updateInterest(): void {
    if (this.closed || this.retryTimer) return;
    this.watch.update({ readable: !this.outputPaused && !this.outputEnded, writable: this.pending.length > 0 });
  }

  private startRetry(): void {
    this.watch.update({});
    this.stopRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.updateInterest(); // the level-triggered watch fires at once if anything is ready
    }, this.retryMs);
  }

  private stopRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The process is gone and the master is empty: end the output, stop reading. */
  private endOutput(): void {
    if (this.outputEnded) return;
    this.outputEnded = true;
    this.watch.update({});
    this.endInput(); // nobody is left to read it
    const output = this.output;
    if (!output) {
      this.finishOutput();
      return;
    }
    output.once('close', () => this.finishOutput());
    output.once('finish', () => this.finishOutput());
    output.end();
  }

  private finishOutput(): void {
    this.outputEnded = true;
    this.resolveOutput();
  }
}
