/**
 * Stdio of a process without a terminal (PROTOCOL §10.3): one real pipe(2) per stream between the
 * shim and runc (the container inherits runc's stdio), and copiers between those pipes and the
 * client's FIFOs or the log file.
 *
 * Lifecycle, in the order the process code calls it:
 *   1. `PipeIO.open(mode)` — makes the pipes (before runc runs, so nothing the container writes is
 *      ever lost: it waits in the pipe), opens a file:// log and starts its copies, and checks that
 *      each FIFO path is a FIFO (a bad path is refused before anything runs);
 *   2. `runcStdio` — the container-side ends, handed to runc as fds 0, 1, 2;
 *   3. `runcStarted()` — runc is running: opens the client's FIFOs and starts their copiers while
 *      runc does its own work, as Go's shim opens them after runc (~0.6 ms off every create and
 *      exec); an output FIFO's copier starts once its client reads it. Never throws: a failure
 *      is reported by `containerStarted`.
 *      container pipe → FIFO copies use splice(2) (splice-copy.ts: no bytes through Node, about
 *      twice the throughput at a third of the CPU), falling back to net.Socket streams if the
 *      kernel refuses to splice between the two; the file:// and stdin copies are streams;
 *   4. `containerStarted()` — after runc create/exec returned: closes our copies of the
 *      container-side ends, so the output copiers see EOF when the container's last writer closes,
 *      and waits for a client that had not opened an output FIFO for reading yet (fifo.ts);
 *   5. `closeStdin()` — CloseIO: drops the keep-open stdin writer;
 *   6. `inFlight(limits)` — when the process has exited, before its exit is applied: what it wrote
 *      and the client has not read yet, to be waited for (delivery.ts; types.ts says why);
 *   7. `drained(ms)` — waits (bounded) for the output copiers to finish;
 *   8. `close()` — closes everything that is still open. Idempotent.
 * `processExited()` changes nothing here: output ends when the container's last writer closes.
 * An output FIFO's keep-open reader stays open until `close()`, after its copy has ended too: it is
 * how `inFlight` counts what the client has not read (FIONREAD), and a reader never delays the
 * client's EOF (that comes when the last writer closes).
 */
import { fchownSync } from 'node:fs';
import net from 'node:net';
import { type Writable } from 'node:stream';
import { type Native } from '../../native';
import { openAppendFile } from './append-file';
import { awaitDelivery, unreadInFifo } from './delivery';
import { type OutputFifoFds, checkFifo, closeFd, closeOutputFifoFds, openInputFifo, openOutputFifoFdForClient, openOutputFifoFdIfRead } from './fifo';
import { SpliceCopy } from './splice-copy';
import { type DeliveryLimits, type DeliveryOutcome, type ProcessIO } from './types';
import { type StdioMode } from './uri';

/** fds for runc's stdin, stdout, stderr ('ignore' = /dev/null). */
export type RuncStdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

/** What PipeIO needs. */
export interface PipeIoOptions {
  native: Pick<Native, 'pipe' | 'splice' | 'watchFd' | 'close' | 'unreadBytes'>;
  /** Owner of the container-side pipe ends (runc options IoUid/IoGid). */
  uid?: number;
  gid?: number;
  /** Use splice(2) for pipe → FIFO copies (default true); false forces the stream path. */
  splice?: boolean;
  /** Where a copy that ended before EOF is reported: what was left in the pipe is lost. */
  warn?: (message: string, fields: Record<string, string | number>) => void;
  /** How long containerStarted waits for a client to open an output FIFO (fifo.ts: CLIENT_READER_PATIENCE_MS). */
  clientPatienceMs?: number;
}

/** One output stream's copier: container pipe → destination. */
interface OutputCopy {
  /** Resolves when the copy is over. */
  done: Promise<void>;
  /** Set when `done` has resolved. */
  over: boolean;
  /** Bytes copied so far (0 until the copy starts). */
  moved: () => number;
  /** Bytes our writer still buffers (a stream copy's; a splice copy buffers nothing). */
  buffered: () => number;
  /** Our keep-open reader of the client's FIFO, once the copy into it has started. */
  fifo?: number;
}

/** The non-terminal stdio of one process. */
export class PipeIO implements ProcessIO {
  /** fds to give runc as its stdin, stdout and stderr. */
  readonly runcStdio: RuncStdio = ['ignore', 'ignore', 'ignore'];
  /** Container-side pipe ends, closed in the shim once runc has passed them on. */
  private readonly containerEnds: number[] = [];
  /** Raw fds we hold and close at the end (keep-open handles, the file). */
  private readonly held = new Set<number>();
  private readonly sockets = new Set<net.Socket>();
  private readonly copiers = new Set<SpliceCopy>();
  private readonly outputs: OutputCopy[] = [];
  /** Output FIFOs whose client had not opened them yet at `open`: awaited by containerStarted. */
  private readonly waitingForClients: Promise<void>[] = [];
  /** What `runcStarted` opens on the client's side: one step per FIFO. */
  private readonly toConnect: (() => void)[] = [];
  /** The first of those steps that failed: `containerStarted` rejects with it. */
  private connectFailure: { error: unknown } | undefined;
  private keepOpenStdinWriter: number | undefined;
  /** CloseIO came: a stdin FIFO opened later (runcStarted) drops its keep-open writer at once. */
  private stdinClosed = false;
  private closed = false;

  private constructor(private readonly options: PipeIoOptions) {}

  /** Opens the client side and the pipes for `mode`, and starts copying. */
  static open(mode: StdioMode, options: PipeIoOptions): PipeIO {
    const io = new PipeIO(options);
    try {
      io.setUp(mode);
    } catch (err) {
      io.close();
      throw err;
    }
    return io;
  }

  private setUp(mode: StdioMode): void {
    switch (mode.kind) {
      case 'null':
        return;
      case 'fifo':
        if (mode.stdin) this.setUpStdin(mode.stdin);
        if (mode.stdout) this.setUpFifoOutput(1, mode.stdout);
        if (mode.stderr) this.setUpFifoOutput(2, mode.stderr);
        return;
      case 'file': {
        if (mode.stdin) this.setUpStdin(mode.stdin);
        const file = openAppendFile(mode.path);
        this.setUpOutput(1, file, { shared: true });
        this.setUpOutput(2, file, { shared: true });
        return;
      }
      case 'binary':
        throw new Error('binary:// logging is set up by BinaryIO');
    }
  }

  /** stdin FIFO → pipe → container fd 0; the FIFO is opened by runcStarted. */
  private setUpStdin(path: string): void {
    checkFifo(path);
    const [r, w] = this.options.native.pipe();
    this.own(r, 'container', 0);
    this.held.add(w);
    this.toConnect.push(() => {
      const fifo = openInputFifo(path);
      this.keepOpenStdinWriter = fifo.keepOpenWriter;
      this.held.add(fifo.keepOpenWriter);
      if (this.stdinClosed) this.closeStdin(); // a restored process can get CloseIO before its Start
      this.track(fifo.reader);
      const pipe = this.track(new net.Socket({ fd: w, readable: false, writable: true }));
      this.held.delete(w); // the socket owns it from here on
      // the container may exit without reading: EPIPE ends the copy, it never crashes the shim
      fifo.reader.pipe(pipe);
    });
  }

  /** container fd 1/2 → pipe → `dest`. */
  private setUpOutput(fd: 1 | 2, dest: Writable, opts: { shared?: boolean } = {}): void {
    const [r, w] = this.options.native.pipe();
    this.own(w, 'container', fd);
    const source = this.track(new net.Socket({ fd: r, readable: true, writable: false }));
    const done = new Promise<void>((resolve) => {
      source.once('end', resolve);
      source.once('close', () => resolve());
    });
    source.pipe(dest, { end: !opts.shared });
    this.addOutput(done, () => source.bytesRead, () => dest.writableLength);
    if (opts.shared && this.outputs.length === 2) {
      void this.copiesOver().then(() => dest.end());
    }
  }

  /** container fd 1/2 → pipe → FIFO `path`; the FIFO is opened by runcStarted (connectFifoOutput). */
  private setUpFifoOutput(fd: 1 | 2, path: string): void {
    checkFifo(path);
    const [r, w] = this.options.native.pipe();
    this.held.add(r);
    this.own(w, 'container', fd);
    // The kernel's 64 KiB, as Go's shim: a larger pipe moved no more MiB/s in the benchmark (the
    // client's reading of its FIFO bounds it), and the kernel charges pipe sizes to the user that
    // made them — every shim's root — against fs/pipe-user-pages-soft (64 MiB): at 1 MiB per output
    // pipe, some thirty containers took it all, and every later pipe of a root process without
    // CAP_SYS_RESOURCE on the node (a container's, by default) got the minimum size.
    this.toConnect.push(() => this.connectFifoOutput(fd, path, r));
  }

  /**
   * Pipe `r` (held) → FIFO `path`: spliced, or streamed where splice is refused. The copy starts
   * once the client has the FIFO open for reading (fifo.ts says why); when it has not yet, the wait
   * runs in the background and `containerStarted` awaits it, as Go's shim blocks in its open there.
   */
  private connectFifoOutput(fd: 1 | 2, path: string, r: number): void {
    const fifo = openOutputFifoFdIfRead(path);
    if (fifo) {
      const output = this.addOutput();
      output.settle(this.copyToFifo(fd, path, r, fifo, output.copy));
      return;
    }
    const opened = openOutputFifoFdForClient(path, { cancelled: () => this.closed, patienceMs: this.options.clientPatienceMs, warn: this.options.warn });
    const waited = opened.then(() => undefined);
    waited.catch(() => undefined); // reported by containerStarted; a process that never gets there must not crash the shim
    this.waitingForClients.push(waited);
    const output = this.addOutput();
    const copy = (fifo: OutputFifoFds | undefined): Promise<void> | undefined => {
      if (!fifo) return undefined; // closed while waiting: close() released r
      if (!this.closed) return this.copyToFifo(fd, path, r, fifo, output.copy);
      closeOutputFifoFds(fifo);
      return undefined;
    };
    output.settle(opened.then(copy, () => undefined));
  }

  /** Records an output copy; `settle` hands it the promise of its end when that is known later. */
  private addOutput(done?: Promise<void>, moved: () => number = () => 0, buffered: () => number = () => 0): { copy: OutputCopy; settle: (done: Promise<unknown>) => void } {
    let settle!: (done: Promise<unknown>) => void;
    const copy: OutputCopy = {
      done: new Promise<void>((resolve) => (settle = (d) => void d.then(() => resolve(), () => resolve()))),
      over: false,
      moved,
      buffered,
    };
    void copy.done.then(() => (copy.over = true));
    if (done) settle(done);
    this.outputs.push(copy);
    return { copy, settle };
  }

  /** Starts copying pipe `r` (held) into the opened FIFO; resolves when the copy is over. */
  private copyToFifo(fd: 1 | 2, path: string, r: number, fifo: OutputFifoFds, output: OutputCopy): Promise<void> {
    this.held.add(fifo.keepOpenReader);
    this.held.add(fifo.writer);
    output.fifo = fifo.keepOpenReader;
    if (this.options.splice === false) return this.streamOutput(r, fifo.writer, output);
    // the copier owns r and the writer from here on
    this.held.delete(r);
    this.held.delete(fifo.writer);
    const copy = new SpliceCopy(this.options.native, r, fifo.writer);
    this.copiers.add(copy);
    output.moved = () => copy.moved;
    return copy.done.then((outcome): Promise<void> | undefined => {
      this.copiers.delete(copy);
      if (outcome.kind === 'error') this.options.warn?.('output copy failed: what was still in the pipe is lost', { fd, path, bytes: outcome.bytes, error: outcome.error.message });
      if (outcome.kind !== 'unsupported') return undefined;
      // handed back: ours again
      this.held.add(outcome.source);
      this.held.add(outcome.destination);
      if (this.closed) {
        this.release(outcome.source);
        this.release(outcome.destination);
        return undefined;
      }
      return this.streamOutput(outcome.source, outcome.destination, output);
    });
  }

  /** Streams raw `source` (held) into raw `writer` (held) with net.Sockets, which take them over. */
  private streamOutput(source: number, writer: number, output: OutputCopy): Promise<void> {
    this.held.delete(source);
    this.held.delete(writer);
    const input = this.track(new net.Socket({ fd: source, readable: true, writable: false }));
    const sink = this.track(new net.Socket({ fd: writer, readable: false, writable: true }));
    const before = output.moved();
    output.moved = () => before + input.bytesRead;
    // read from the container but not in the FIFO: in the sink's queue, or held by the paused input
    output.buffered = () => (sink.destroyed ? 0 : sink.writableLength) + (input.destroyed ? 0 : input.readableLength);
    input.pipe(sink);
    return new Promise<void>((resolve) => {
      input.once('end', resolve);
      input.once('close', () => resolve());
    });
  }

  /** Records a container-side end and chowns it to IoUid/IoGid. */
  private own(fd: number, _side: 'container', stdioIndex: 0 | 1 | 2): void {
    this.containerEnds.push(fd);
    this.runcStdio[stdioIndex] = fd;
    if (this.options.uid !== undefined || this.options.gid !== undefined) {
      fchownSync(fd, this.options.uid ?? -1, this.options.gid ?? -1);
    }
  }

  private track<S extends net.Socket>(socket: S): S {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy()); // EPIPE/ECONNRESET: that stream is over
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }

  private release(fd: number): void {
    if (this.held.delete(fd)) closeFd(fd);
  }

  /** runc is running: opens the client's FIFOs and starts their copies. Never throws; idempotent. */
  runcStarted(): void {
    for (const step of this.toConnect.splice(0)) {
      if (this.closed || this.connectFailure) return;
      try {
        step();
      } catch (error) {
        this.connectFailure = { error };
      }
    }
  }

  /**
   * After runc create/exec: the container holds its ends now; drop ours. Resolves once every
   * output FIFO has its client (or the wait gave up); rejects if a FIFO could not be opened.
   */
  async containerStarted(): Promise<void> {
    this.runcStarted();
    this.dropContainerEnds();
    if (this.connectFailure) throw this.connectFailure.error;
    await Promise.all(this.waitingForClients);
  }

  private dropContainerEnds(): void {
    for (const fd of this.containerEnds.splice(0)) closeFd(fd);
  }

  /** Output ends by EOF on the pipes, not by the exit. */
  processExited(): void {
    // a background child may still hold the pipes: its output is copied until it closes them
  }

  /** Nothing beyond close() to wait for. */
  whenClosed(): Promise<void> {
    return Promise.resolve();
  }

  /** No terminal: nothing to resize. */
  resize(): void {
    // pipes have no window size
  }

  /** CloseIO: stdin reaches EOF once every client writer is gone too. */
  closeStdin(): void {
    this.stdinClosed = true;
    if (this.keepOpenStdinWriter !== undefined) {
      this.release(this.keepOpenStdinWriter);
      this.keepOpenStdinWriter = undefined;
    }
  }

  /** After the process exited: its output in flight, as delivery.ts waits for it (ProcessIO.inFlight). */
  inFlight(limits: DeliveryLimits): Promise<DeliveryOutcome> | undefined {
    return awaitDelivery(
      {
        delivered: () => this.closed || this.outputs.every((o) => o.over && this.unread(o) === 0),
        progress: () => this.outputs.map((o) => `${o.moved()}/${this.unread(o)}`).join(' '),
        unread: () => this.outputs.reduce((sum, o) => sum + this.unread(o), 0),
        // what went into a client's FIFO and is no longer there or in our writer
        clientRead: () => this.outputs.reduce((sum, o) => sum + (o.fifo === undefined ? 0 : Math.max(0, o.moved() - this.unread(o))), 0),
        copiesOver: () => this.copiesOver(),
      },
      limits,
    );
  }

  /** What the client has not read: still in our writer, or in its FIFO. */
  private unread(o: OutputCopy): number {
    const inFifo = o.fifo !== undefined && this.held.has(o.fifo) ? unreadInFifo(this.options.native, o.fifo) : 0;
    return o.buffered() + inFifo;
  }

  /** Resolves when the output copiers are done, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.copiesOver(), timeout]);
    clearTimeout(timer);
  }

  /** Resolves when every output copy is over. */
  private async copiesOver(): Promise<void> {
    await Promise.all(this.outputs.map((o) => o.done));
  }

  /** Closes every handle still open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropContainerEnds();
    for (const copy of [...this.copiers]) copy.close();
    for (const socket of [...this.sockets]) socket.destroy();
    for (const fd of [...this.held]) this.release(fd);
  }
}
