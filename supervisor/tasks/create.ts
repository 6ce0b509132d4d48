/**
 * Creating a container and its task, as containerd does for a shim-v2 runtime: the record first
 * (status `creating`, durable — so a daemon crash from here on is undone at restart), then the
 * bundle (config.json, rootfs/, the `log` FIFO held open), the log directory, the shim's `start`,
 * the bootstrap reply saved, the connection, and `Create` with the output going to our binary://
 * log driver. Any failure undoes everything in reverse and removes the record.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';
import { task } from '../../proto/index';
import { DEFAULT_RUNTIME, tsruncBinary } from '../config';
import { loggerUri, writeLogConfig } from '../logging/uri';
import { bundleDir, createBundle, keepSpec, readBundleSpec, removeBundle } from '../shims/bundle';
import { resolveRuntime } from '../shims/runtime';
import { type ResourceLimits, checkLimits, isEmpty, withLimits } from '../shims/resources';
import { type OciSpec, adoptSpec, generateSpec } from '../shims/spec';
import type { ContainerRecord, LogConfig, RestartPolicy } from '../store/types';
import { bootstrapInBundle } from '../shims/bootstrap';
import { newContainerId, newContainerName } from '../util/identifiers';
import { errorMessage } from '../util/log';
import { startFifoOutput } from './fifo-output';
import type { TaskInternals } from './internals';

/** What `run`/`create` asks for. */
export interface CreateSpec {
  readonly name: string;
  readonly runtime: string;
  readonly rootfs: string;
  readonly bundle: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly autoRemove: boolean;
  readonly restartPolicy: RestartPolicy | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly logConfig: Partial<LogConfig> | undefined;
  /** Limits for config.json linux.resources (undefined: none). */
  readonly resources?: ResourceLimits | undefined;
  /** A terminal for the init, of this size (undefined: none). */
  readonly terminal?: { readonly width: number; readonly height: number } | undefined;
  /** Keep the init's stdin open for attach. */
  readonly stdin?: boolean | undefined;
}

/** Docker's container-name rule (a leading `/` is not accepted here). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Creates the container and its task; returns the record (status `created`). */
export async function createContainer(t: TaskInternals, spec: CreateSpec): Promise<ContainerRecord> {
  const record = newRecord(t, spec);
  return t.queue.run(record.id, async () => {
    t.store.insert(record);
    t.publishContainerEvent('/containers/create', record);
    try {
      await createTask(t, record, spec);
    } catch (err) {
      t.log.warn('create failed, undoing', { id: record.id, err: errorMessage(err) });
      await undoCreate(t, record);
      throw err;
    }
    return t.store.get(record.id);
  });
}

function newRecord(t: TaskInternals, spec: CreateSpec): ContainerRecord {
  if ((spec.rootfs === '') === (spec.bundle === '')) throw new ErrdefsError('invalidArgument', 'give exactly one of --rootfs DIR and --bundle DIR');
  for (const [flag, path] of [['rootfs', spec.rootfs], ['bundle', spec.bundle]] as const) {
    // resolved here, it would be against the daemon's working directory, not the client's
    if (path !== '' && !isAbsolute(path)) throw new ErrdefsError('invalidArgument', `--${flag} ${JSON.stringify(path)} must be an absolute path`);
  }
  if (spec.name !== '' && (!NAME.test(spec.name) || spec.name.length > 128)) {
    throw new ErrdefsError('invalidArgument', `invalid container name ${JSON.stringify(spec.name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  if (spec.name !== '' && t.store.findByName(spec.name) !== undefined) {
    throw new ErrdefsError('alreadyExists', `container name ${JSON.stringify(spec.name)} is already in use`);
  }
  const { config } = t;
  const runtime = spec.runtime === '' ? DEFAULT_RUNTIME : spec.runtime;
  const runtimeBinary = resolveRuntime(runtime, { path: process.env['PATH'], binDir: config.binDir });
  let id = newContainerId();
  while (t.store.find(id) !== undefined) id = newContainerId();
  const name = spec.name !== '' ? spec.name : newContainerName((n) => t.store.findByName(n) !== undefined);
  const namespace = config.namespace;
  let rootfs: string;
  let args: readonly string[];
  if (spec.rootfs !== '') {
    rootfs = resolve(spec.rootfs);
    if (!isDirectory(rootfs)) throw new ErrdefsError('invalidArgument', `rootfs ${rootfs} is not a directory`);
    args = spec.args;
  } else {
    const adopted = adoptSpec(readBundleSpec(resolve(spec.bundle)), { bundleDir: resolve(spec.bundle), id, namespace, args: spec.args, env: spec.env, cwd: spec.cwd });
    rootfs = adopted.root?.path ?? '';
    args = adopted.process?.args ?? [];
  }
  if (args.length === 0) throw new ErrdefsError('invalidArgument', 'a command is required (after --)');
  if (spec.resources !== undefined) checkLimits(spec.resources);
  return {
    schema: 1,
    id,
    name,
    namespace,
    runtime,
    runtimeBinary,
    bundle: bundleDir(config.paths.bundles, namespace, id),
    rootfs,
    args: [...args],
    env: [...spec.env],
    cwd: spec.cwd,
    labels: { ...spec.labels },
    createdAt: new Date().toISOString(),
    autoRemove: spec.autoRemove,
    restartPolicy: spec.restartPolicy ?? { name: 'no', maxRetries: 0 },
    logDir: join(config.paths.tasks, namespace, id),
    logConfig: { maxSize: spec.logConfig?.maxSize || config.logMaxSize, maxFiles: spec.logConfig?.maxFiles || config.logMaxFiles },
    status: 'creating',
    ...(isEmpty(spec.resources) ? {} : { resources: { ...spec.resources } }),
    ...(spec.terminal === undefined ? {} : { terminal: true }),
    ...(spec.stdin === true ? { stdin: true } : {}),
    pid: 0,
    revision: 0,
  };
}

async function createTask(t: TaskInternals, record: ContainerRecord, spec: CreateSpec): Promise<void> {
  const baseSpec =
    spec.rootfs !== ''
      ? generateSpec({ id: record.id, namespace: record.namespace, rootfs: record.rootfs, args: record.args, env: record.env, cwd: record.cwd })
      : adoptSpec(readBundleSpec(resolve(spec.bundle)), { bundleDir: resolve(spec.bundle), id: record.id, namespace: record.namespace, args: spec.args, env: spec.env, cwd: spec.cwd });
  const ociSpec = withTerminal(withLimits(baseSpec, record.resources), spec.terminal);
  createBundle(record.bundle, ociSpec);
  mkdirSync(record.logDir, { recursive: true, mode: 0o700 });
  writeLogConfig(record.logDir, record.logConfig);
  keepSpec(record.logDir, ociSpec);
  await launchTask(t, record, spec.terminal);
}

/**
 * Starts a shim for the record's bundle and creates the task in it (status `created`): at create,
 * and again for every restart by the restart policy (same bundle, same log files).
 */
export async function launchTask(t: TaskInternals, record: ContainerRecord, terminal?: { width: number; height: number }): Promise<void> {
  const bootstrap = await t.shims.launch(record);
  t.store.update(record.id, (r) => {
    r.shim = { address: bootstrap.address, version: bootstrap.version, protocol: bootstrap.protocol, binary: r.runtimeBinary };
  });
  const shim = await t.shims.connect(record.id, record.namespace, bootstrap);
  const stdin = record.stdin === true ? t.stdins.open(record.id, stdinPath(record.bundle)).path : '';
  // stdin without a terminal: FIFO output and a log driver of our own (Go's shim drops stdin with binary://)
  const logger = loggerUri(tsruncBinary(t.config.binDir), record.logDir);
  let output = { stdout: logger, stderr: logger };
  if (record.stdin === true && record.terminal !== true) {
    const fifos = startFifoOutput(record.bundle, record.logDir, tsruncBinary(t.config.binDir), t.native);
    t.stdins.holdAlso(record.id, () => fifos.close());
    output = { stdout: fifos.stdout, stderr: fifos.stderr };
  }
  const response = await shim.create(
    task.CreateTaskRequest.create({
      id: record.id,
      bundle: record.bundle,
      terminal: record.terminal === true,
      stdin,
      stdout: output.stdout,
      // a terminal has no stderr: everything comes out of the pty, into stdout
      stderr: record.terminal === true ? '' : output.stderr,
      options: t.shims.runtimeOptions(),
    }),
  );
  if (terminal !== undefined) await shim.resizePty(record.id, '', terminal.width, terminal.height).catch(() => undefined);
  t.store.update(record.id, (r) => {
    r.status = 'created';
    r.pid = response.pid;
  });
}

/**
 * Undoes a create (also for a `creating` record found at restart): delete the task if the shim has
 * one, shut the shim down (or run `delete` if it cannot be reached), remove the bundle, the logs and
 * the record.
 */
export async function undoCreate(t: TaskInternals, record: ContainerRecord): Promise<void> {
  const found = t.store.find(record.id) ?? record;
  // a daemon killed after the shim started but before the record named it: the shim's own
  // `address` file in the bundle names it (as containerd finds shims after its restart)
  const left = found.shim === undefined ? bootstrapInBundle(found.bundle) : undefined;
  const current = left === undefined ? found : { ...found, shim: { ...left, binary: found.runtimeBinary } };
  if (current.shim !== undefined) {
    const shim = t.shims.get(record.id) ?? (await t.shims.attach(current));
    if (shim !== undefined) {
      t.shims.releasing(record.id);
      await shim.delete(record.id).catch(() => undefined);
      await shim.shutdown(record.id).catch(() => undefined);
      await t.shims.release(record.id);
    } else {
      await t.shims.cleanupDead(current);
    }
  }
  await t.shims.release(record.id);
  t.stdins.forget(record.id);
  removeBundle(record.bundle);
  rmSync(record.logDir, { recursive: true, force: true });
  if (t.store.find(record.id) !== undefined) {
    t.store.remove(record.id);
    t.publishContainerEvent('/containers/delete', current);
  }
  t.exits.forget(record.id);
}

/** The stdin FIFO of a container's init, in its bundle. */
export function stdinPath(bundle: string): string {
  return join(bundle, 'stdin');
}

/** `spec` with a terminal of `size` for its process (runc sets the size as it creates the pty), or without one. */
function withTerminal(spec: OciSpec, size: { width: number; height: number } | undefined): OciSpec {
  const process: NonNullable<OciSpec['process']> = { ...(spec.process ?? {}), terminal: size !== undefined };
  if (size !== undefined && size.width > 0 && size.height > 0) process['consoleSize'] = { width: size.width, height: size.height };
  return { ...spec, process };
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
