/**
 * Opening the client's FIFOs without ever blocking a thread (PROTOCOL §10.2, §13.3), with the
 * keep-open handles that let stdio survive a client or containerd restart:
 *
 * - an output FIFO (stdout/stderr): the writer, O_WRONLY|O_NONBLOCK, once the client has the FIFO
 *   open for reading (below); then our own reader, O_RDONLY|O_NONBLOCK, kept — never read — so the
 *   container never gets EPIPE while no client reads;
 * - an input FIFO (stdin): our reader, O_RDONLY|O_NONBLOCK, then a keep-open writer so the reader
 *   sees EOF only after CloseIO closed it and every client writer is gone.
 *
 * The handles we read or write are wrapped in net.Socket (a libuv pipe handle on epoll), never in
 * fs streams (which would pin pool threads).
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import net from 'node:net';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = constants;
/** Linux O_CLOEXEC (Node's fs.constants does not export it). */
const CLOEXEC = 0o2000000;

/** An output FIFO opened for writing, with its keep-open reader. */
export interface OutputFifo {
  writer: net.Socket;
  /** Our never-read reader fd; close it once the writer is done so the client sees EOF. */
  keepOpenReader: number;
}

/** An input FIFO opened for reading, with its keep-open writer. */
export interface InputFifo {
  reader: net.Socket;
  /** Our writer fd; closed by CloseIO. */
  keepOpenWriter: number;
}

function openFifo(path: string, flags: number): number {
  const fd = openSync(path, flags | O_NONBLOCK | CLOEXEC);
  try {
    if (!fstatSync(fd).isFIFO()) throw Object.assign(new Error(`${path} is not a FIFO`), { code: 'EINVAL' });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** An output FIFO opened for writing, as raw fds (for the splice copier). */
export interface OutputFifoFds {
  /** Our writer fd, O_NONBLOCK. */
  writer: number;
  /** Our never-read reader fd; close it once the writer is done so the client sees EOF. */
  keepOpenReader: number;
}

/**
 * How long the start of a process waits for its client to open an output FIFO for reading. Go's
 * shim waits as long as the request lasts (a blocking open); a client that never reads gets its
 * FIFO opened anyway after this, with a warning.
 */
export const CLIENT_READER_PATIENCE_MS = 5_000;
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;

/**
 * Opens `path` (stdout/stderr) for writing if the client has it open for reading, then our
 * keep-open reader; undefined while no reader exists (ENXIO). The caller owns both fds.
 *
 * The client's reader must come first, as in Go's shim (its open(O_WRONLY) blocks until then): the
 * FIFO's buffer is freed with its last open end, so output we copied before the client opened it
 * and then closed at EOF — a process that writes and exits within a few ms — would be lost.
 */
export function openOutputFifoFdIfRead(path: string): OutputFifoFds | undefined {
  let writer: number;
  try {
    writer = openFifo(path, O_WRONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
    throw err;
  }
  try {
    return { writer, keepOpenReader: openFifo(path, O_RDONLY) };
  } catch (err) {
    closeSync(writer);
    throw err;
  }
}

/**
 * openOutputFifoFdIfRead, retried on a timer until the client's reader is there (no thread waits
 * in open). After `patienceMs` without one, opens our reader first so the writer can open, and says
 * `late`. Resolves undefined when `cancelled()` turns true while waiting.
 */
export async function openOutputFifoFdForClient(path: string, cancelled: () => boolean, patienceMs = CLIENT_READER_PATIENCE_MS): Promise<{ fifo: OutputFifoFds; late: boolean } | undefined> {
  const deadline = Date.now() + patienceMs;
  for (let delay = FIRST_RETRY_MS; ; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
    if (cancelled()) return undefined;
    const fifo = openOutputFifoFdIfRead(path);
    if (fifo) return { fifo, late: false };
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  const keepOpenReader = openFifo(path, O_RDONLY);
  try {
    return { fifo: { writer: openFifo(path, O_WRONLY), keepOpenReader }, late: true };
  } catch (err) {
    closeSync(keepOpenReader);
    throw err;
  }
}

/** The writer of `fds` wrapped in a net.Socket. */
export function outputFifoSocket(fds: OutputFifoFds): OutputFifo {
  return { writer: new net.Socket({ fd: fds.writer, readable: false, writable: true }), keepOpenReader: fds.keepOpenReader };
}

/** Opens `path` (stdin) for reading. */
export function openInputFifo(path: string): InputFifo {
  const readerFd = openFifo(path, O_RDONLY);
  let keepOpenWriter: number;
  try {
    keepOpenWriter = openFifo(path, O_WRONLY);
  } catch (err) {
    closeSync(readerFd);
    throw err;
  }
  const reader = new net.Socket({ fd: readerFd, readable: true, writable: false });
  return { reader, keepOpenWriter };
}

/** Closes a raw fd, ignoring EBADF (already closed). */
export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
