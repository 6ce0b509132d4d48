/**
 * An interactive session of the CLI with a process in a container (`run -i/-t`, `attach`,
 * `exec -i/-t`), over one bidirectional call:
 *
 *   - with a terminal, our own terminal goes into raw mode (restored at the end, whatever happens),
 *     its size is sent at once and on every SIGWINCH;
 *   - our stdin is copied to the process when it takes input; its end closes the process's stdin;
 *   - docker's detach sequence ctrl-p ctrl-q (typed on our stdin) ends the call and leaves the
 *     process running; so does our death — the daemon only sees the call go away;
 *   - output is written to our stdout/stderr as it comes; the last message carries the exit status.
 */
import type { CliContext } from './context';
import type { DuplexStream } from './client';

/** Ctrl-P, Ctrl-Q. */
const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/** What the session sends besides the first message (AttachInput and ExecInput share these fields). */
export interface InputMessage {
  stdin?: Uint8Array;
  closeStdin?: boolean;
  resize?: { width: number; height: number };
  /** AttachInput only (ExecInput has no such field: an exec is detached from by dropping the call). */
  detach?: boolean;
}

/** What the session reads (AttachOutput and ExecOutput share these fields). */
export interface OutputMessage {
  stream: number;
  data: Uint8Array;
  exited: boolean;
  exitStatus: number;
}

/** How the session behaves. */
export interface SessionOptions {
  /** The process has a terminal: raw mode and window sizes. */
  readonly tty: boolean;
  /** Copy our stdin to the process. */
  readonly stdin: boolean;
  /** Stream number of stderr in the output messages. */
  readonly stderrStream: number;
  /** Called as we detach, before the call is dropped (to send a last message). */
  readonly onDetach?: (() => void) | undefined;
  /** The call understands `detach` (Attach); otherwise detaching cancels it. */
  readonly detachMessage?: boolean | undefined;
}

/** How a session ended. */
export type SessionEnd = { readonly kind: 'exited'; readonly status: number } | { readonly kind: 'detached' } | { readonly kind: 'ended' };

/** Our terminal's size, when stdout is one. */
export function windowSize(): { width: number; height: number } | undefined {
  const out = process.stdout;
  return out.isTTY && out.columns > 0 && out.rows > 0 ? { width: out.columns, height: out.rows } : undefined;
}

/** Finds ctrl-p ctrl-q in input split across chunks; what precedes it is passed on. */
export class DetachScanner {
  private held = false;

  /** The bytes to send, and whether the sequence was seen (everything after it is dropped). */
  feed(chunk: Uint8Array): { send: Uint8Array; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.held) {
        this.held = false;
        if (b === CTRL_Q) return { send: Uint8Array.from(out), detach: true };
        out.push(CTRL_P);
      }
      if (b === CTRL_P) this.held = true;
      else out.push(b);
    }
    return { send: Uint8Array.from(out), detach: false };
  }
}

/** Runs a session over `call` (its first message already sent) until the process exits or we detach. */
export async function runSession<Q extends object, S extends OutputMessage>(
  ctx: CliContext,
  call: DuplexStream<Q, S>,
  message: (m: InputMessage) => Q,
  options: SessionOptions,
): Promise<SessionEnd> {
  const stdin = process.stdin;
  const raw = options.tty && stdin.isTTY;
  let detached = false;
  const cleanups: (() => void)[] = [];
  if (raw) {
    stdin.setRawMode(true);
    cleanups.push(() => stdin.setRawMode(false));
  }
  if (options.tty) {
    const sendSize = (): void => {
      const size = windowSize();
      if (size !== undefined) call.send(message({ resize: size }));
    };
    sendSize();
    process.on('SIGWINCH', sendSize);
    cleanups.push(() => process.off('SIGWINCH', sendSize));
  }
  if (options.stdin) {
    const scanner = new DetachScanner();
    const onData = (chunk: Buffer): void => {
      const { send, detach } = scanner.feed(chunk);
      if (send.length > 0) call.send(message({ stdin: send }));
      if (detach) {
        detached = true;
        options.onDetach?.();
        if (options.detachMessage === true) {
          // the daemon ends the call once it has our last messages; cancel only should it not
          call.send(message({ detach: true }));
          setTimeout(() => call.cancel(), 2_000).unref();
        } else {
          call.cancel();
        }
      }
    };
    const onEnd = (): void => call.send(message({ closeStdin: true }));
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    cleanups.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    });
  }
  try {
    for await (const m of call) {
      if (m.exited) return { kind: 'exited', status: m.exitStatus };
      await ctx.write(m.stream === options.stderrStream ? 'stderr' : 'stdout', m.data);
    }
    return detached ? { kind: 'detached' } : { kind: 'ended' };
  } finally {
    for (const c of cleanups.reverse()) c();
    call.end();
  }
}
