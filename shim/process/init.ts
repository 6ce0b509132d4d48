/**
 * The container's init process: created by `runc create` (or set up for `runc restore`), started
 * by `runc start`, signalled, paused, updated, checkpointed and deleted through runc. Every verb
 * checks the state table first; every runc failure becomes a ShimError with runc's own words.
 *
 * This class knows nothing of events or other processes: the task layer publishes, and holds exits
 * back while a start is in flight (task/exits.ts).
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Runc } from '../runc/runc';
import { RuncError, isNotExist, isProcessDone } from '../runc/errors';
import { type IoContext, openIO, withRunc } from '../stdio/io';
import { ShimError } from '../util/errors';
import { BaseProcess } from './base';
import { readPidFile } from './pidfile';
import { type StdioConfig } from './types';

/** Checkpoint settings (decoded CheckpointOptions). */
export interface CheckpointSettings {
  exit: boolean;
  openTcp: boolean;
  externalUnixSockets: boolean;
  terminal: boolean;
  fileLocks: boolean;
  emptyNamespaces: readonly string[];
  workPath: string;
}

/** The runtime options the init process itself uses. */
export interface InitOptions {
  noPivotRoot: boolean;
  noNewKeyring: boolean;
  /** criu work dir for restore (default <bundle>/work). */
  criuWorkPath: string;
}

export interface InitConfig {
  id: string;
  bundle: string;
  runc: Runc;
  options: InitOptions;
  stdio: StdioConfig;
  io: IoContext;
  /** A CRIU image directory to restore from at Start (CreateTaskRequest.checkpoint). */
  checkpoint?: string;
  parentCheckpoint?: string;
}

/** How long Delete waits for output to be copied out (Go: 2 s). */
export const DRAIN_TIMEOUT_MS = 2000;

/** The `<detail>` of a runc failure: runc's logged error, else its exit status and output. */
export function runcDetail(err: unknown): string {
  return err instanceof RuncError ? err.detail : err instanceof Error ? err.message : String(err);
}

/** The init process of one container. */
export class InitProcess extends BaseProcess {
  readonly pidFile: string;

  constructor(private readonly config: InitConfig) {
    super(config.id, 'init', config.stdio, config.checkpoint ? 'createdCheckpoint' : 'created');
    this.pidFile = join(config.bundle, 'init.pid');
  }

  get bundle(): string {
    return this.config.bundle;
  }

  /** Opens stdio and runs `runc create` (or, for a restore, only prepares stdio). */
  async create(): Promise<void> {
    this.io = await openIO(this.stdio, this.config.io);
    if (this.config.checkpoint) return; // restored at Start
    try {
      await withRunc(
        this.io,
        this.config.runc.create(
          {
            id: this.id,
            bundle: this.config.bundle,
            pidFile: this.pidFile,
            ...(this.io.consoleSocket ? { consoleSocket: this.io.consoleSocket } : {}),
            noPivot: this.config.options.noPivotRoot,
            noNewKeyring: this.config.options.noNewKeyring,
          },
          this.io.runcStdio,
        ),
      );
      this.pid = readPidFile(this.pidFile);
    } catch (err) {
      this.io.close();
      this.io = undefined;
      throw new ShimError('unknown', `OCI runtime create failed: ${runcDetail(err)}`);
    }
  }

  /** `runc start` (or `runc restore` for a checkpoint); the caller moves the state on success. */
  async start(): Promise<void> {
    this.check('start');
    if (this.state === 'createdCheckpoint') {
      await this.restore();
    } else {
      try {
        await this.config.runc.start(this.id);
      } catch (err) {
        throw new ShimError('unknown', `OCI runtime start failed: ${runcDetail(err)}`);
      }
    }
    this.transition('start');
  }

  private async restore(): Promise<void> {
    const { runc, options, bundle, checkpoint, parentCheckpoint } = this.config;
    const io = this.io;
    if (!io || !checkpoint) throw new ShimError('failedPrecondition', checkpoint ? 'an earlier restore of this task failed and released its stdio: delete the task' : 'internal: restore without an image');
    try {
      await withRunc(
        io,
        runc.restore(
          {
            id: this.id,
            bundle,
            imagePath: checkpoint,
            workPath: options.criuWorkPath || join(bundle, 'work'),
            pidFile: this.pidFile,
            ...(parentCheckpoint ? { parentPath: parentCheckpoint } : {}),
            ...(io.consoleSocket ? { consoleSocket: io.consoleSocket } : {}),
            noPivot: options.noPivotRoot,
          },
          io.runcStdio,
        ),
      );
      this.pid = readPidFile(this.pidFile);
    } catch (err) {
      // as create does: its container-side ends are closed already, so they cannot go to another runc
      io.close();
      this.io = undefined;
      throw new ShimError('unknown', `OCI runtime restore failed: ${runcDetail(err)}`);
    }
  }

  /** `runc kill [--all] <id> <signal>`, with runc's "already finished" mapped to NotFound. */
  async kill(signal: number, all: boolean): Promise<void> {
    this.check('kill');
    try {
      await this.config.runc.kill(this.id, signal, all);
    } catch (err) {
      const detail = runcDetail(err);
      if (isProcessDone(detail)) throw new ShimError('notFound', 'process already finished');
      if (isNotExist(detail)) throw new ShimError('notFound', 'no such container');
      throw new ShimError('unknown', `unknown error after kill: ${detail}`);
    }
  }

  /** SIGKILL to every process of the container (a shared pid namespace does not end with its init). */
  async killAll(): Promise<void> {
    try {
      await this.config.runc.kill(this.id, 9, true);
    } catch (err) {
      const detail = runcDetail(err);
      if (!isProcessDone(detail) && !isNotExist(detail)) throw new ShimError('unknown', `kill all processes: ${detail}`);
    }
  }

  async pause(): Promise<void> {
    this.check('pause');
    this.transition('pauseBegin');
    try {
      await this.config.runc.pause(this.id);
    } catch (err) {
      this.tryTransition('pauseFailed');
      throw new ShimError('unknown', `OCI runtime pause failed: ${runcDetail(err)}`);
    }
    this.tryTransition('pauseEnd');
  }

  async resume(): Promise<void> {
    this.check('resume');
    try {
      await this.config.runc.resume(this.id);
    } catch (err) {
      throw new ShimError('unknown', `OCI runtime resume failed: ${runcDetail(err)}`);
    }
    this.tryTransition('resume');
  }

  /** Resumes a paused container whose init exited, so it can be cleaned up (Go does the same). */
  async resumeAfterExit(): Promise<void> {
    try {
      await this.config.runc.resume(this.id);
    } catch {
      // best effort: the container may be gone already
    }
  }

  /** `runc update --resources -` with LinuxResources JSON. */
  async update(resourcesJson: string): Promise<void> {
    this.check('update');
    try {
      await this.config.runc.update(this.id, resourcesJson);
    } catch (err) {
      throw new ShimError('unknown', `OCI runtime update failed: ${runcDetail(err)}`);
    }
  }

  /**
   * `runc checkpoint` into `imagePath` (PROTOCOL §7.8). The criu work dir defaults to
   * <bundle>/work/criu-work and is removed afterwards; on failure criu's dump log is copied to
   * <bundle>/criu-dump.log and named in the error.
   */
  async checkpoint(imagePath: string, o: CheckpointSettings): Promise<void> {
    this.check('checkpoint');
    const workPath = o.workPath || join(this.config.bundle, 'work', 'criu-work');
    try {
      await this.config.runc.checkpoint({ id: this.id, imagePath, workPath, exit: o.exit, openTcp: o.openTcp, externalUnixSockets: o.externalUnixSockets, terminal: o.terminal, fileLocks: o.fileLocks, emptyNamespaces: o.emptyNamespaces });
    } catch (err) {
      const dumpLog = join(this.config.bundle, 'criu-dump.log');
      try {
        copyFileSync(join(workPath, 'dump.log'), dumpLog);
      } catch {
        // criu did not get far enough to write a log
      }
      const first = runcDetail(err).split('\n')[0] ?? '';
      throw new ShimError('unknown', `${first} path= ${dumpLog}`);
    } finally {
      if (!o.workPath) rmSync(workPath, { recursive: true, force: true });
    }
  }

  /** Waits for output, `runc delete`, closes stdio; the container is gone afterwards. */
  async delete(): Promise<void> {
    this.check('delete');
    await this.io?.drained(DRAIN_TIMEOUT_MS);
    try {
      await this.config.runc.delete(this.id);
    } catch (err) {
      const detail = runcDetail(err);
      if (!isNotExist(detail)) throw new ShimError('unknown', `failed to delete task: ${detail}`);
    }
    this.io?.close();
    // a binary:// logger is stopped (SIGTERM, SIGKILL after 12 s) before Delete answers, as Go's
    // binaryIO.Close does: afterwards the shim may exit, and no logger may outlive its task
    await this.io?.whenClosed();
    this.markDeleted();
  }

  /** Closes stdio without runc (a failed create, a shutdown). */
  releaseIO(): void {
    this.io?.close();
  }

  get runc(): Runc {
    return this.config.runc;
  }
}
