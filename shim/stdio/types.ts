/** The contract every stdio mode implements (pipes, terminal, logging binary). */

/**
 * The stdio of a process. The process layer calls, in this order: `openIO` → runc create/exec/restore
 * with `runcStdio` (and `consoleSocket` when set) → `containerStarted()` → … `processExited()` when
 * the exit is applied … → `drained(ms)` → `close()`.
 */
export interface ProcessIO {
  /** fds for runc's stdin, stdout, stderr ('ignore' = /dev/null). */
  readonly runcStdio: [number | 'ignore', number | 'ignore', number | 'ignore'];
  /** A console socket path for runc (terminal mode). */
  readonly consoleSocket?: string;
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
  /** Resolves when output has been copied out (bounded by `timeoutMs`). */
  drained(timeoutMs: number): Promise<void>;
  /** Releases everything; starts stopping a logging binary. Idempotent, never throws. */
  close(): void;
  /** Resolves once everything `close()` started has finished (a logging binary has exited). */
  whenClosed(): Promise<void>;
}
