/**
 * An exec process: recorded by the Exec RPC (nothing runs yet), started with
 * `runc exec --detach --pid-file <bundle>/<exec id>.pid`, signalled with kill(2) on its pid (not
 * through runc), deleted with its pid file. Its stdio is opened at Start.
 *
 * Signalling by pid is safe: once runc exec has returned, the process is our child (we are its
 * subreaper), so its pid cannot be reused before we reap it — and reaping marks it stopped
 * synchronously, before any later kill can run.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Runc } from '../runc/runc';
import { type IoContext, openIO, withRunc } from '../stdio/io';
import { type ProcessIO } from '../stdio/types';
import { ShimError } from '../util/errors';
import { errorMessage } from '../util/log';
import { BaseProcess } from './base';
import { DRAIN_TIMEOUT_MS, runcDetail } from './init';
import { readPidFile } from './pidfile';
import { type StdioConfig } from './types';

export interface ExecConfig {
  containerId: string;
  execId: string;
  bundle: string;
  runc: Runc;
  /** The OCI Process, as JSON (terminal already forced to the request's value). */
  processJson: string;
  stdio: StdioConfig;
  io: IoContext;
}

/** Process spec files written by this daemon: their names. */
let processFiles = 0;

/** One exec of a container. */
export class ExecProcess extends BaseProcess {
  readonly pidFile: string;

  constructor(private readonly config: ExecConfig) {
    super(config.execId, 'exec', config.stdio, 'created');
    this.pidFile = join(config.bundle, `${config.execId}.pid`);
  }

  /**
   * Opens stdio and runs `runc exec --detach`; the caller moves the state on success. A failure
   * before runc runs (the spec file, the stdio) leaves the exec created, and Start can be tried
   * again, as Go's shim allows; once runc has run and failed, the exec can only be deleted
   * (failedToStart).
   */
  async start(): Promise<void> {
    this.check('start');
    // In the bundle, beside the pid file: a directory only containerd's user can write, which
    // containerd removes with the task (no temp file left in /tmp if we are killed). Named by our
    // pid and a counter, so no other daemon's exec can share the name.
    const processFile = join(this.config.bundle, `runc-process-${process.pid}-${++processFiles}.json`);
    try {
      const io = await this.prepare(processFile);
      this.io = io;
      try {
        await withRunc(
          io,
          this.config.runc.exec(
            {
              id: this.config.containerId,
              processFile,
              pidFile: this.pidFile,
              ...(io.consoleSocket ? { consoleSocket: io.consoleSocket } : {}),
            },
            io.runcStdio,
          ),
        );
        this.pid = readPidFile(this.pidFile);
      } catch (err) {
        io.close();
        this.io = undefined;
        this.failedToStart();
        throw new ShimError('unknown', `OCI runtime exec failed: ${runcDetail(err)}`);
      }
    } finally {
      try {
        unlinkSync(processFile);
      } catch {
        // already gone, or never written
      }
    }
    this.transition('start');
  }

  /** What runc exec needs before it runs: the process spec in `processFile`, and the stdio. Nothing runs yet. */
  private async prepare(processFile: string): Promise<ProcessIO> {
    try {
      writeFileSync(processFile, this.config.processJson, { mode: 0o600 });
    } catch (err) {
      throw new ShimError('unknown', `failed to write the exec process spec: ${errorMessage(err)}`);
    }
    try {
      return await openIO(this.stdio, this.config.io);
    } catch (err) {
      throw new ShimError('unknown', `failed to create exec process I/O: ${errorMessage(err)}`);
    }
  }

  /** kill(2) on the exec's pid; `all` does not apply to an exec. */
  // eslint-disable-next-line @typescript-eslint/require-await -- refusals must reject, not throw
  async kill(signal: number): Promise<void> {
    this.check('kill');
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new ShimError('notFound', 'process already finished');
      throw new ShimError('unknown', `kill exec ${this.id}: ${(err as Error).message}`);
    }
  }

  /** Waits for output, closes stdio, removes the pid file. No runc call, no event. */
  async delete(): Promise<void> {
    this.check('delete');
    await this.io?.drained(DRAIN_TIMEOUT_MS);
    this.io?.close();
    await this.io?.whenClosed(); // a binary:// logger has exited (init.ts delete)
    try {
      unlinkSync(this.pidFile);
    } catch {
      // never started, or removed already
    }
    this.markDeleted();
  }

  /** Closes stdio without deleting (the container is going away). */
  releaseIO(): void {
    this.io?.close();
  }
}
