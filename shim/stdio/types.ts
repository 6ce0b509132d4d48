/** The contract every stdio mode implements (pipes, terminal, logging binary). */

/** The stdio of a running process. */
export interface ProcessIO {
  /** fds for runc's stdin, stdout, stderr ('ignore' = /dev/null). */
  readonly runcStdio: [number | 'ignore', number | 'ignore', number | 'ignore'];
  /** A console socket path for runc (terminal mode). */
  readonly consoleSocket?: string;
  /** Called once runc create/exec/restore returned: the container holds its ends now. */
  containerStarted(): Promise<void>;
  /** CloseIO. */
  closeStdin(): void;
  /** ResizePty; a no-op without a terminal. */
  resize(size: { width: number; height: number }): void;
  /** Resolves when output has been copied out (bounded by `timeoutMs`). */
  drained(timeoutMs: number): Promise<void>;
  /** Releases everything. Idempotent. */
  close(): void;
}
