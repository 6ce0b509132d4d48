/** A child the exit monitor started, whichever way it was started (monitor.ts, direct.ts). */
import { type Readable, type Writable } from 'node:stream';
import { type Exit } from './exit';

/** What becomes the child's fd i: /dev/null, a pipe to us, or one of our fds. */
export type StdioSpec = 'ignore' | 'pipe' | number;

export interface SpawnOptions {
  cwd?: string;
  /** The child's whole environment (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** The child's fds 0, 1, 2, … */
  stdio: readonly StdioSpec[];
}

/** A started child: the parent's ends of its pipes, and a way to signal it until it is reaped. */
export interface Child {
  /** undefined when it could not be started. */
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Sends `signal` (default SIGTERM); false once the child has been reaped or when it failed. */
  kill(signal?: NodeJS.Signals): boolean;
}

/** A started child and its exit. */
export interface Spawned {
  child: Child;
  /** Resolves when the child has exited; rejects if it could not be started (e.g. ENOENT). */
  exit: Promise<Exit>;
}
