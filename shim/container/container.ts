/**
 * One container of the shim: its bundle, runc client, options, init process and execs.
 *
 * Creation is all-or-nothing: inputs are checked first (ids, bundle path, options, mount specs —
 * InvalidArgument before anything on disk changes), then the rootfs is mounted, the options saved,
 * and the init created; a failure anywhere undoes the mounts.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type Native } from '../../native';
import { ExecProcess } from '../process/exec';
import { InitProcess } from '../process/init';
import { type BaseProcess } from '../process/base';
import { type StdioConfig } from '../process/types';
import { type ProcessMonitor } from '../reaper';
import { Runc } from '../runc/runc';
import { ShimError } from '../util/errors';
import { bundlePathProblem, identifierProblem } from '../util/validate';
import { readSpec, shouldKillAllOnExit } from './bundle';
import { OptionsError, type RuncOptions, decodeOptions, runcBinary, runcRoot, saveOptions } from './options';
import { unmountAll } from './mounts';
import { type MountSpec, mountRootfs, rollBackRootfs, unmountRootfs, validateMount } from './rootfs';

export interface CreateRequest {
  id: string;
  bundle: string;
  rootfs: MountSpec[];
  stdio: StdioConfig;
  checkpoint: string;
  parentCheckpoint: string;
  /** Runtime options Any from the request (or null). */
  options: { typeUrl: string; value: Uint8Array } | null;
}

export interface ContainerContext {
  namespace: string;
  native: Native;
  monitor: ProcessMonitor;
  /** Tells the log what went wrong in a process's stdio (IoContext.warn). */
  warn?: (message: string, fields: Record<string, string | number>) => void;
}

/** Throws InvalidArgument when `value` is not a containerd identifier. */
export function checkIdentifier(what: string, value: string): void {
  const problem = identifierProblem(value);
  if (problem) throw new ShimError('invalidArgument', `invalid ${what} "${value}": ${problem}`);
}

/** A container and its processes. */
export class Container {
  readonly execs = new Map<string, ExecProcess>();
  /** Whether the init's exit leaves other processes running (shared pid namespace). */
  readonly killAllOnExit: boolean;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    readonly options: RuncOptions,
    readonly init: InitProcess,
    readonly runc: Runc,
    private readonly ctx: ContainerContext,
    private mounts: string[],
  ) {
    this.killAllOnExit = shouldKillAllOnExit(readSpec(bundle));
  }

  /** Validates, mounts, saves options and runs `runc create`. */
  static async create(request: CreateRequest, ctx: ContainerContext): Promise<Container> {
    checkIdentifier('container id', request.id);
    const bundleProblem = bundlePathProblem(request.bundle);
    if (bundleProblem) throw new ShimError('invalidArgument', `invalid bundle path "${request.bundle}": ${bundleProblem}`);
    if (!statSync(request.bundle, { throwIfNoEntry: false })?.isDirectory()) throw new ShimError('invalidArgument', `invalid bundle path "${request.bundle}": no such directory`);
    let options: RuncOptions;
    try {
      options = decodeOptions(request.options);
    } catch (err) {
      if (err instanceof OptionsError) throw new ShimError('invalidArgument', err.message);
      throw err;
    }
    request.rootfs.forEach(validateMount);

    const mounts = request.rootfs.length > 0 ? await mountRootfs(request.rootfs, join(request.bundle, 'rootfs'), ctx.monitor, ctx.native, ctx.warn) : [];
    try {
      saveOptions(request.bundle, options);
      const runc = new Runc({
        binary: runcBinary(options),
        root: runcRoot(options, ctx.namespace),
        bundle: request.bundle,
        monitor: ctx.monitor,
        systemdCgroup: options.systemdCgroup,
        ...(options.criuPath ? { criuPath: options.criuPath } : {}),
      });
      const init = new InitProcess({
        id: request.id,
        bundle: request.bundle,
        runc,
        options,
        stdio: request.stdio,
        io: { native: ctx.native, monitor: ctx.monitor, containerId: request.id, namespace: ctx.namespace, uid: options.ioUid, gid: options.ioGid, ...(ctx.warn ? { warn: ctx.warn } : {}) },
        ...(request.checkpoint ? { checkpoint: request.checkpoint } : {}),
        ...(request.parentCheckpoint ? { parentCheckpoint: request.parentCheckpoint } : {}),
      });
      await init.create();
      return new Container(request.id, request.bundle, options, init, runc, ctx, mounts);
    } catch (err) {
      await rollBackRootfs(mounts, ctx.native, ctx.warn);
      throw err;
    }
  }

  /** The init (execId '') or an exec; NotFound otherwise. */
  process(execId: string): BaseProcess {
    if (execId === '') return this.init;
    const exec = this.execs.get(execId);
    if (!exec) throw new ShimError('notFound', `process does not exist ${execId}`);
    return exec;
  }

  /** The exec `execId`; NotFound otherwise. */
  exec(execId: string): ExecProcess {
    const exec = this.execs.get(execId);
    if (!exec) throw new ShimError('notFound', `process does not exist ${execId}`);
    return exec;
  }

  /**
   * Records a new exec (nothing runs until its Start). Checks in Go's order — id, duplicate, the
   * init's state — before `processJson` builds the spec (which may throw InvalidArgument).
   */
  addExec(execId: string, processJson: () => string, stdio: StdioConfig): ExecProcess {
    checkIdentifier('exec id', execId);
    if (this.execs.has(execId)) throw new ShimError('alreadyExists', `id ${execId}`);
    this.init.check('exec');
    const json = processJson();
    const exec = new ExecProcess({
      containerId: this.id,
      execId,
      bundle: this.bundle,
      runc: this.runc,
      processJson: json,
      stdio,
      io: { native: this.ctx.native, monitor: this.ctx.monitor, containerId: this.id, namespace: this.ctx.namespace, uid: this.options.ioUid, gid: this.options.ioGid, ...(this.ctx.warn ? { warn: this.ctx.warn } : {}) },
    });
    this.execs.set(execId, exec);
    return exec;
  }

  /** Forgets a deleted exec. */
  removeExec(execId: string): void {
    this.execs.delete(execId);
  }

  /** Execs started and not yet exited. */
  runningExecs(): ExecProcess[] {
    return [...this.execs.values()].filter((e) => e.pid > 0 && !e.exited.done);
  }

  /**
   * Unmounts what Create mounted (after the init was deleted), then whatever is still mounted on
   * the bundle's rootfs, as Go's Delete does (UnmountAll): one umount2 answering EINVAL when
   * nothing is. Afterwards the `delete` action would find nothing to unmount.
   */
  async unmount(): Promise<void> {
    const mounts = this.mounts;
    this.mounts = [];
    await unmountRootfs(mounts, this.ctx.native);
    await unmountAll(this.ctx.native, join(this.bundle, 'rootfs'));
  }

  /** Releases every process's stdio (shim shutdown). */
  releaseIO(): void {
    this.init.releaseIO();
    for (const exec of this.execs.values()) exec.releaseIO();
  }
}
