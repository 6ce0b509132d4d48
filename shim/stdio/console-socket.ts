/**
 * runc's console socket (PROTOCOL §10.4): a unix socket `pty.sock` in a fresh directory
 * `pty<random>` under $XDG_RUNTIME_DIR (or /tmp). `runc create|exec --console-socket <path>` makes
 * the container's terminal and sends the pty master over it: one connection, one message whose data
 * is the terminal's name and whose single SCM_RIGHTS control message carries the master fd.
 *
 * Everything is non-blocking and driven by readiness (native.watchFd): the listening socket is
 * watched until a connection is accepted, the connection until the message is there. runc has
 * normally sent the fd before `runc create` returns, but nothing here relies on that.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type FdWatch, type Native, type ReceivedFd } from '../../native';

/** How long to wait for runc to send the master (Go: 30 s, its context). */
export const RECEIVE_TIMEOUT_MS = 30_000;

/** What the console socket needs from the native layer. */
export type ConsoleSocketNative = Pick<Native, 'listenUnix' | 'accept' | 'recvFd' | 'watchFd' | 'close'>;

/** The directory consoles sockets are made in: $XDG_RUNTIME_DIR, else /tmp (as the Go shim). */
export function consoleSocketRoot(): string {
  return process.env['XDG_RUNTIME_DIR'] || '/tmp';
}

/** A listening console socket waiting for runc's one connection. */
export class ConsoleSocket {
  /** The path to pass as `--console-socket`. */
  readonly path: string;
  private listener: number | undefined;
  private connection: number | undefined;
  private watch: FdWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settle: ((result: ReceivedFd | Error) => void) | undefined;
  private dirRemoved = false;

  private constructor(
    private readonly native: ConsoleSocketNative,
    private readonly dir: string,
  ) {
    this.path = join(dir, 'pty.sock');
  }

  /** Makes the directory and the listening socket. */
  static open(native: ConsoleSocketNative, root = consoleSocketRoot()): ConsoleSocket {
    const socket = new ConsoleSocket(native, mkdtempSync(join(root, 'pty')));
    try {
      socket.listener = native.listenUnix(socket.path);
    } catch (err) {
      socket.close();
      throw err;
    }
    return socket;
  }

  /**
   * Accepts one connection and receives the pty master from it. Closes the socket and removes its
   * directory whatever the outcome; the caller owns the returned fd. Call once.
   */
  receive(timeoutMs = RECEIVE_TIMEOUT_MS): Promise<ReceivedFd> {
    if (this.listener === undefined || this.settle) return Promise.reject(new Error('console socket: already used or closed'));
    const listener = this.listener;
    return new Promise<ReceivedFd>((resolve, reject) => {
      this.settle = (result) => {
        this.settle = undefined;
        this.close();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.timer = setTimeout(() => this.settle?.(new Error(`console socket: runc did not send the terminal within ${timeoutMs} ms (${this.path})`)), timeoutMs);
      this.watch = this.native.watchFd(listener, () => this.step());
      this.step(); // the connection and the message are usually there already
    });
  }

  /** One attempt at the next step: accept, then receive. */
  private step(): void {
    const settle = this.settle;
    if (!settle) return;
    try {
      if (this.connection === undefined) {
        const conn = this.native.accept(this.listener ?? -1);
        if (conn === null) return; // no connection yet
        this.connection = conn;
        this.watch?.close();
        this.watch = this.native.watchFd(conn, () => this.step());
      }
      const received = this.native.recvFd(this.connection);
      if (received !== null) settle(received);
    } catch (err) {
      settle(err instanceof Error ? new Error(`console socket: ${err.message}`, { cause: err }) : new Error(String(err)));
    }
  }

  /** Closes the connection and the listener and removes the directory. Idempotent. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.watch?.close();
    this.watch = undefined;
    for (const fd of [this.connection, this.listener]) {
      if (fd === undefined) continue;
      try {
        this.native.close(fd);
      } catch {
        // already closed
      }
    }
    this.connection = undefined;
    this.listener = undefined;
    if (!this.dirRemoved) {
      this.dirRemoved = true;
      rmSync(this.dir, { recursive: true, force: true });
    }
    this.settle?.(new Error('console socket: closed before runc sent the terminal'));
  }
}
