/**
 * What a CLI command gets: the paths of the root it talks to, a lazily connected client, and the
 * output streams (tests and the demo capture them).
 */
import type { Paths } from '../config';
import { SupervisorClient } from './client';

/** A command's environment. */
export class CliContext {
  private connected: SupervisorClient | undefined;

  constructor(
    readonly paths: Paths,
    readonly stdout: NodeJS.WritableStream = process.stdout,
    readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  /** The daemon client (connected on first use). */
  client(): SupervisorClient {
    this.connected ??= SupervisorClient.connect(this.paths);
    return this.connected;
  }

  /** Writes to stdout. */
  out(text: string): void {
    this.stdout.write(text);
  }

  /** Writes `data` to stdout or stderr, waiting when the stream is full. */
  write(stream: 'stdout' | 'stderr', data: Uint8Array): Promise<void> {
    const target = stream === 'stderr' ? this.stderr : this.stdout;
    return new Promise((resolve) => {
      if (target.write(data)) resolve();
      else target.once('drain', resolve);
    });
  }

  /** Closes the client, if one was made. */
  close(): void {
    this.connected?.close();
  }
}

/** A command: parses its arguments, talks to the daemon, returns the exit status. */
export type Command = (ctx: CliContext, argv: readonly string[]) => Promise<number>;
