/**
 * Output through FIFOs instead of `binary://`, for a container whose stdin is open but that has no
 * terminal (`run -i`): Go's runc.v2 shim connects stdin only with FIFO (or file) output — with a
 * `binary://` logger it gives the process /dev/null — so for this one case the daemon starts the
 * log driver itself, reading `<bundle>/stdout` and `<bundle>/stderr`:
 *
 *   mkfifo both → open their read ends (non-blocking) and a keep-open writer each → spawn
 *   `tsrunc log-driver <dir>` detached, the read ends as its fds 3 and 4 (the same contract as
 *   when a shim starts it) → the shim opens the FIFOs for writing at Create.
 *
 * Our writers keep the driver from seeing EOF before the shim opened its own; they are closed when
 * the task is torn down, after which the driver reads EOF once the shim closed its ends and writes
 * the log's end marker. Should the daemon die, its writers close with it: the driver then ends with
 * the shim's. The driver never depends on the daemon, as with `binary://`.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Native } from '../../native';

/** The FIFO paths to give the shim, and how to let go of our writers. */
export interface FifoOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** Drops the keep-open writers (idempotent). */
  close(): void;
}

/** Creates the FIFOs in `bundle` and starts `tsrunc log-driver <logDir>` on them. */
export function startFifoOutput(bundle: string, logDir: string, tsrunc: string, native: Pick<Native, 'mkfifo'>): FifoOutput {
  const paths = [join(bundle, 'stdout'), join(bundle, 'stderr')] as const;
  const readers: number[] = [];
  const writers: number[] = [];
  try {
    for (const path of paths) {
      if (!existsSync(path)) native.mkfifo(path, 0o600);
      readers.push(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
      writers.push(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    }
    const driver = spawn(tsrunc, ['log-driver', logDir], { stdio: ['ignore', 'ignore', 'ignore', readers[0] ?? 'ignore', readers[1] ?? 'ignore'], detached: true });
    driver.on('error', () => undefined);
    driver.unref();
  } catch (err) {
    for (const fd of writers) closeSync(fd);
    throw err;
  } finally {
    for (const fd of readers) closeSync(fd); // the driver has its own copies
  }
  let open = true;
  return {
    stdout: paths[0],
    stderr: paths[1],
    close: () => {
      if (!open) return;
      open = false;
      for (const fd of writers) closeSync(fd);
    },
  };
}
