/**
 * Stdio of a process without a terminal (PROTOCOL §10.3): one real pipe(2) per stream between the
 * shim and runc (the container inherits runc's stdio), and copiers between those pipes and the
 * client's FIFOs or the log file.
 *
 * Lifecycle, in the order the process code calls it:
 *   1. `PipeIO.open(mode)` — opens FIFOs/files, makes the pipes, starts the copiers (before runc
 *      runs, so nothing the container writes is ever lost);
 *   2. `runcStdio` — the container-side ends, handed to runc as fds 0, 1, 2;
 *   3. `containerStarted()` — after runc create/exec returned: closes our copies of the
 *      container-side ends, so the output copiers see EOF when the container's last writer closes;
 *   4. `closeStdin()` — CloseIO: drops the keep-open stdin writer;
 *   5. `drained(ms)` — waits (bounded) for the output copiers to finish;
 *   6. `close()` — closes everything that is still open. Idempotent.
 */
import { createWriteStream, fchownSync, mkdirSync, openSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { type Writable } from 'node:stream';
import { type Native } from '../../native';
import { closeFd, openInputFifo, openOutputFifo } from './fifo';
import { type ProcessIO } from './types';
import { type StdioMode } from './uri';

/** Linux O_CLOEXEC (Node's fs.constants does not export it). */
const O_CLOEXEC = 0o2000000;

export type RuncStdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

export interface PipeIoOptions {
  native: Pick<Native, 'pipe'>;
  /** Owner of the container-side pipe ends (runc options IoUid/IoGid). */
  uid?: number;
  gid?: number;
}

/** One output stream's copier: container pipe → destination. */
interface OutputCopy {
  done: Promise<void>;
  source: net.Socket;
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
  private readonly outputs: OutputCopy[] = [];
  private keepOpenStdinWriter: number | undefined;
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
        if (mode.stdout) this.setUpOutput(1, this.fifoWriter(mode.stdout));
        if (mode.stderr) this.setUpOutput(2, this.fifoWriter(mode.stderr));
        return;
      case 'file': {
        if (mode.stdin) this.setUpStdin(mode.stdin);
        const file = this.appendFile(mode.path);
        this.setUpOutput(1, file, { shared: true });
        this.setUpOutput(2, file, { shared: true });
        return;
      }
      case 'binary':
        throw new Error('binary:// logging is set up by BinaryIO');
    }
  }

  /** stdin FIFO → pipe → container fd 0. */
  private setUpStdin(path: string): void {
    const [r, w] = this.options.native.pipe();
    this.own(r, 'container', 0);
    const fifo = openInputFifo(path);
    this.keepOpenStdinWriter = fifo.keepOpenWriter;
    this.held.add(fifo.keepOpenWriter);
    this.track(fifo.reader);
    const pipe = this.track(new net.Socket({ fd: w, readable: false, writable: true }));
    // the container may exit without reading: EPIPE ends the copy, it never crashes the shim
    fifo.reader.pipe(pipe);
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
    this.outputs.push({ source, done });
    if (opts.shared && this.outputs.length === 2) {
      void Promise.all(this.outputs.map((o) => o.done)).then(() => dest.end());
    }
  }

  private fifoWriter(path: string): Writable {
    const fifo = openOutputFifo(path);
    this.held.add(fifo.keepOpenReader);
    const writer = this.track(fifo.writer);
    // once our writer has flushed and closed, drop the keep-open reader so the client sees EOF
    writer.once('close', () => this.release(fifo.keepOpenReader));
    return writer;
  }

  private appendFile(path: string): Writable {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | O_CLOEXEC, 0o644);
    // a regular file: fs writes (pool threads) are fine here; FIFOs are never written this way
    const stream = createWriteStream('', { fd, autoClose: true });
    stream.on('error', () => undefined);
    return stream;
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

  /** After runc create/exec: the container holds its ends now; drop ours. */
  containerStarted(): Promise<void> {
    this.dropContainerEnds();
    return Promise.resolve();
  }

  private dropContainerEnds(): void {
    for (const fd of this.containerEnds.splice(0)) closeFd(fd);
  }

  /** No terminal: nothing to resize. */
  resize(): void {
    // pipes have no window size
  }

  /** CloseIO: stdin reaches EOF once every client writer is gone too. */
  closeStdin(): void {
    if (this.keepOpenStdinWriter !== undefined) {
      this.release(this.keepOpenStdinWriter);
      this.keepOpenStdinWriter = undefined;
    }
  }

  /** Resolves when the output copiers are done, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(this.outputs.map((o) => o.done)), timeout]);
    clearTimeout(timer);
  }

  /** Closes every handle still open. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropContainerEnds();
    for (const socket of [...this.sockets]) socket.destroy();
    for (const fd of [...this.held]) this.release(fd);
  }
}
