/**
 * The daemon's shutdown, as a service (containerd's shutdown service): `shutdown()` is idempotent,
 * runs the registered cleanups once in reverse order of registration (each bounded by its own
 * timeout where it may hang), and resolves `done`, which the composition root awaits before exit.
 */

type Cleanup = () => void | Promise<void>;

/** Registered cleanups and one shutdown. */
export class Shutdown {
  private readonly cleanups: { name: string; fn: Cleanup }[] = [];
  private started = false;
  private resolveDone!: () => void;
  /** Resolves after every cleanup ran. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly onError: (name: string, err: unknown) => void = () => undefined) {}

  /** Registers a cleanup; cleanups run last-registered first. */
  register(name: string, fn: Cleanup): void {
    this.cleanups.push({ name, fn });
  }

  /** True once shutdown has begun. */
  get isShuttingDown(): boolean {
    return this.started;
  }

  /** Begins shutdown (once); resolves when it is done. */
  shutdown(): Promise<void> {
    if (!this.started) {
      this.started = true;
      void this.run();
    }
    return this.done;
  }

  private async run(): Promise<void> {
    for (const { name, fn } of [...this.cleanups].reverse()) {
      try {
        await fn();
      } catch (err) {
        this.onError(name, err);
      }
    }
    this.resolveDone();
  }
}
