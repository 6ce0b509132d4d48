/**
 * Everything a benchmark starts (containerd, containers, hand-started shims, temp dirs) registers
 * how to undo it here; the steps run last-registered first on normal exit, on failure and on
 * SIGINT/SIGTERM/SIGHUP, each at most once.
 */

type Step = { name: string; fn: () => void | Promise<void> };

/** A stack of undo steps. */
export class Cleanup {
  private steps: Step[] = [];
  private running: Promise<void> | undefined;

  /** Registers a step; the returned function drops it (once it is done by hand). */
  add(name: string, fn: () => void | Promise<void>): () => void {
    const step = { name, fn };
    this.steps.push(step);
    return () => {
      this.steps = this.steps.filter((s) => s !== step);
    };
  }

  /** Runs every registered step, last first; a failing step is reported and the others still run. */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop();
        if (!step) break;
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`bench: cleanup "${step.name}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
      this.running = undefined;
    })();
    return this.running;
  }

  /**
   * On SIGINT/SIGTERM/SIGHUP: clean up, then exit with 128 + signal (a second signal exits at once).
   * On an uncaught exception or unhandled rejection: report it, clean up, exit 1.
   */
  onSignals(): void {
    const fatal = (err: unknown): void => {
      process.stderr.write(`bench: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      void this.run().finally(() => process.exit(1));
    };
    process.on('uncaughtException', fatal);
    process.on('unhandledRejection', fatal);
    const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
    for (const [signal, code] of Object.entries(codes)) {
      let seen = false;
      process.on(signal, () => {
        if (seen) process.exit(code);
        seen = true;
        process.stderr.write(`\nbench: ${signal}: cleaning up (again to exit at once)\n`);
        void this.run().finally(() => process.exit(code));
      });
    }
  }
}
