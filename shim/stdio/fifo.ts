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
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import net from 'node:net';
import { O_CLOEXEC } from '../util/open-file';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = constants;

/** An output FIFO opened for writing, with its keep-open reader. */
export interface OutputFifo {
  writer: net.Socket;
  /** Our never-read reader fd: our writes never fail with EPIPE while no client reads. It does not delay the client's EOF (no writer left does). */
  keepOpenReader: number;
}

/** An input FIFO opened for reading, with its keep-open writer. */
export interface InputFifo {
  reader: net.Socket;
  /** Our writer fd; closed by CloseIO. */
  keepOpenWriter: number;
}

function openFifo(path: string, flags: number): number {
  const fd = openSync(path, flags | O_NONBLOCK | O_CLOEXEC);
  try {
    if (!fstatSync(fd).isFIFO()) throw Object.assign(new Error(`${path} is not a FIFO`), { code: 'EINVAL' });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** Throws unless `path` is a FIFO: ENOENT, or EINVAL as openFifo. Refuses a bad path before runc runs. */
export function checkFifo(path: string): void {
  if (!statSync(path).isFIFO()) throw Object.assign(new Error(`${path} is not a FIFO`), { code: 'EINVAL' });
}

/** An output FIFO opened for writing, as raw fds (for the splice copier). */
export interface OutputFifoFds {
  /** Our writer fd, O_NONBLOCK. */
  writer: number;
  /** Our never-read reader fd: our writes never fail with EPIPE while no client reads. It does not delay the client's EOF (no writer left does). */
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

/** What `openOutputFifoFdForClient` needs besides the path. */
export interface ClientWait {
  /** True once the caller was closed: the wait ends with nothing opened. */
  cancelled: () => boolean;
  /** How long to wait for the client (default CLIENT_READER_PATIENCE_MS). */
  patienceMs?: number | undefined;
  /** Told when the wait gave up and the FIFO was opened without a client. */
  warn?: ((message: string, fields: Record<string, string | number>) => void) | undefined;
}

/**
 * openOutputFifoFdIfRead, retried on a timer until the client's reader is there (no thread waits
 * in open). After the patience without one, opens our reader first so the writer can open, and
 * warns. Resolves undefined when the caller was closed while waiting (nothing left open); a caller
 * closed between this resolving and its continuation releases the fds with closeOutputFifoFds.
 */
export async function openOutputFifoFdForClient(path: string, wait: ClientWait): Promise<OutputFifoFds | undefined> {
  const deadline = Date.now() + (wait.patienceMs ?? CLIENT_READER_PATIENCE_MS);
  let fifo: OutputFifoFds | undefined;
  for (let delay = FIRST_RETRY_MS; !fifo; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
    if (wait.cancelled()) return undefined;
    fifo = openOutputFifoFdIfRead(path);
    if (fifo) break;
    if (Date.now() >= deadline) {
      wait.warn?.('no client opened the output FIFO for reading: copying anyway; output is lost if the process ends before one does', { path });
      const keepOpenReader = openFifo(path, O_RDONLY);
      try {
        fifo = { writer: openFifo(path, O_WRONLY), keepOpenReader };
      } catch (err) {
        closeSync(keepOpenReader);
        throw err;
      }
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return fifo;
}

/** Closes both fds of an output FIFO that will not be used. */
export function closeOutputFifoFds(fds: OutputFifoFds): void {
  closeFd(fds.writer);
  closeFd(fds.keepOpenReader);
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
