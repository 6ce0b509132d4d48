/**
 * Opening the client's FIFOs without ever blocking a thread (PROTOCOL §10.2, §13.3), with the
 * keep-open handles that let stdio survive a client or containerd restart:
 *
 * - an output FIFO (stdout/stderr): our reader end is opened first, O_RDONLY|O_NONBLOCK (never
 *   blocks), and kept — never read — so the container never gets EPIPE while no client reads; then
 *   the writer, O_WRONLY|O_NONBLOCK, which succeeds because a reader now exists;
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

/** Opens `path` (stdout/stderr) for writing; the caller owns both fds. */
export function openOutputFifoFd(path: string): OutputFifoFds {
  const keepOpenReader = openFifo(path, O_RDONLY);
  try {
    return { writer: openFifo(path, O_WRONLY), keepOpenReader };
  } catch (err) {
    closeSync(keepOpenReader);
    throw err;
  }
}

/** Opens `path` (stdout/stderr) for writing, the writer wrapped in a net.Socket. */
export function openOutputFifo(path: string): OutputFifo {
  const fds = openOutputFifoFd(path);
  const writer = new net.Socket({ fd: fds.writer, readable: false, writable: true });
  return { writer, keepOpenReader: fds.keepOpenReader };
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
