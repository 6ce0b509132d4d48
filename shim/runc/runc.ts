/**
 * The runc client of one container: binary, root, log and global options fixed at construction,
 * one method per command (PROTOCOL §9). Every invocation runs with cwd = bundle and the shim's
 * environment without NOTIFY_SOCKET, through the injected process monitor.
 */
import { type ProcessMonitor } from '../reaper';
import * as a from './args';
import { runCommand } from './command';

export interface RuncConfig {
  /** runc binary (a name resolved on PATH, or a path). */
  binary: string;
  /** `<Root or /run/containerd/runc>/<namespace>`. */
  root: string;
  bundle: string;
  criuPath?: string;
  systemdCgroup?: boolean;
  monitor: ProcessMonitor;
  env?: NodeJS.ProcessEnv;
}

type Stdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

/** runc for one container. */
/** runc's state directory of container `id` under `root`: there while runc knows the container. */
export function runcStateDir(root: string, id: string): string {
  return `${root}/${id}`;
}

export class Runc {
  private readonly globals: string[];
  private readonly env: NodeJS.ProcessEnv;
  readonly log: string;

  /** runc's state directory of container `id` (runcStateDir). */
  stateDir(id: string): string {
    return runcStateDir(this.config.root, id);
  }

  constructor(private readonly config: RuncConfig) {
    this.log = `${config.bundle}/log.json`;
    const g: a.GlobalOptions = { root: config.root, log: this.log };
    if (config.criuPath) g.criuPath = config.criuPath;
    if (config.systemdCgroup) g.systemdCgroup = true;
    this.globals = a.globalArgs(g);
    const env = { ...(config.env ?? process.env) };
    delete env['NOTIFY_SOCKET'];
    this.env = env;
  }

  get binary(): string {
    return this.config.binary;
  }

  private run(args: string[], options: { stdio?: Stdio; input?: string | Buffer } = {}) {
    return runCommand(this.config.monitor, this.config.binary, [...this.globals, ...args], {
      cwd: this.config.bundle,
      env: this.env,
      log: this.log,
      ...(options.stdio ? { stdio: options.stdio } : {}),
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
  }

  async create(o: a.CreateArgs, stdio?: Stdio): Promise<void> {
    await this.run(a.createArgs(o), stdio ? { stdio } : {});
  }

  async start(id: string): Promise<void> {
    await this.run(a.startArgs(id));
  }

  async exec(o: a.ExecArgs, stdio?: Stdio): Promise<void> {
    await this.run(a.execArgs(o), stdio ? { stdio } : {});
  }

  async restore(o: a.RestoreArgs, stdio?: Stdio): Promise<void> {
    await this.run(a.restoreArgs(o), stdio ? { stdio } : {});
  }

  async kill(id: string, signal: number, all: boolean): Promise<void> {
    await this.run(a.killArgs(id, signal, all));
  }

  async delete(id: string, force = false): Promise<void> {
    await this.run(a.deleteArgs(id, force));
  }

  async pause(id: string): Promise<void> {
    await this.run(a.pauseArgs(id));
  }

  async resume(id: string): Promise<void> {
    await this.run(a.resumeArgs(id));
  }

  /**
   * Host pids of the container's processes (`runc ps --format json`). runc prints `null` for a
   * container with none (its init exited): no pids, as Go's json.Unmarshal reads it.
   */
  async ps(id: string): Promise<number[]> {
    const { stdout } = await this.run(a.psArgs(id));
    const pids: unknown = JSON.parse(stdout.trim() || '[]') ?? [];
    if (!Array.isArray(pids) || !pids.every((p) => Number.isInteger(p))) throw new Error(`runc ps: unexpected output ${stdout.trim()}`);
    return pids as number[];
  }

  /** Applies LinuxResources (OCI JSON) with `runc update --resources -`. */
  async update(id: string, resourcesJson: string): Promise<void> {
    await this.run(a.updateArgs(id), { input: `${resourcesJson}\n` });
  }

  async checkpoint(o: a.CheckpointArgs): Promise<void> {
    await this.run(a.checkpointArgs(o));
  }
}
