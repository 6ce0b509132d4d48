/** The contract every stdio mode implements (pipes, terminal, logging binary). */

/** How long an exit may wait for its output to reach the client (ProcessIO.inFlight). */
export interface DeliveryLimits {
  /** Give up once nothing moved for this long, when the client has read from its FIFO before: a reader that stalled. */
  idleMs: number;
  /**
   * The same, when the client has read nothing yet: most likely there is none (a detached `ctr run
   * -d`). A heuristic: a detached ctr that read some early output before it left gets `idleMs`,
   * and an attached client that had not read anything yet when it stalled gets only this.
   */
  idleNoReaderMs: number;
  /** Give up after this long in any case. */
  maxMs: number;
}

/** How a wait for output in flight ended: everything reached the client, or the wait gave up. */
export type DeliveryOutcome =
  | { delivered: true }
  | {
      delivered: false;
      /** `idle`: the client read nothing for `idleMs` (or `idleNoReaderMs`); `limit`: `maxMs` was over. */
      gaveUp: 'idle' | 'limit';
      waitedMs: number;
      /** What the client had not read then (its client may lose it). */
      unread: number;
      /** What the client had read from its FIFO by then: 0 when it never read (most likely there is none). */
      clientRead: number;
    };

/**
 * The stdio of a process. The process layer calls, in this order: `openIO` → runc create/exec/restore
 * with `runcStdio` (and `consoleSocket` when set) → `runcStarted()` as soon as runc has been started →
 * `containerStarted()` once it returned → … `inFlight(limits)` when
 * the process was reaped, `processExited()` when its exit is applied … → `drained(ms)` → `close()`.
 */
export interface ProcessIO {
  /** fds for runc's stdin, stdout, stderr ('ignore' = /dev/null). */
  readonly runcStdio: [number | 'ignore', number | 'ignore', number | 'ignore'];
  /** A console socket path for runc (terminal mode). */
  readonly consoleSocket?: string;
  /**
   * Called as soon as runc create/exec/restore has been started, while it runs: what is left to
   * open on the client's side is opened now, off the critical path (pipes: the FIFOs). Never
   * throws: a failure is reported by `containerStarted`. Idempotent.
   */
  runcStarted(): void;
  /**
   * Called once runc create/exec/restore returned: the container holds its ends now. In terminal
   * mode this receives the pty master (and rejects if runc never sends it).
   */
  containerStarted(): Promise<void>;
  /**
   * Called (synchronously, from BaseProcess.onExited) when the process's exit has been applied. A
   * terminal's output then ends once what the process wrote has been read; pipes end by EOF.
   */
  processExited(): void;
  /** CloseIO. */
  closeStdin(): void;
  /** ResizePty; a no-op without a terminal. */
  resize(size: { width: number; height: number }): void;
  /**
   * Called when the process has been reaped, before its exit is applied: a promise that resolves
   * with how the wait ended — once the output it wrote has reached the client, or when `limits`
   * gave up — or undefined when nothing is in flight. Never rejects. The init's exit waits for it (shim/task/exits.ts, rule 5):
   * containerd's client up to 1.6.21 and 1.7.2 closes its FIFOs as soon as it learns the exit.
   */
  inFlight(limits: DeliveryLimits): Promise<DeliveryOutcome> | undefined;
  /** Resolves when output has been copied out (bounded by `timeoutMs`). */
  drained(timeoutMs: number): Promise<void>;
  /** Releases everything; starts stopping a logging binary. Idempotent, never throws. */
  close(): void;
  /** Resolves once everything `close()` started has finished (a logging binary has exited). */
  whenClosed(): Promise<void>;
}
