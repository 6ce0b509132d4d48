/**
 * A private, real containerd for tests (RECIPES "A private containerd for tests"): its own config,
 * root, state, sockets and a unique namespace, started with a clean environment and the project's
 * bin/ first on PATH (so `io.containerd.tsrunc.v2` resolves to our shim), and stopped exactly:
 * containerd by pid, then the containers and shims of its namespace, the mounts under its temp
 * dir, the namespace's cgroups and the shim sockets it hashed — never anything by a broad pattern.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, statSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { argvOf, envOf, processTable, running } from './proc';
import { waitFor } from './wait';

export const REPO = resolve(__dirname, '..', '..', '..');
export const BIN = join(REPO, 'bin');
/** Where every containerd (whatever its config) puts shim sockets (PROTOCOL §3.1). */
export const SHIM_SOCKET_DIR = '/run/containerd/s';

export interface ContainerdOptions {
  /** Extra TOML appended to the config (plugin sections). */
  extraConfig?: string;
  /** Keep the CRI plugin enabled (it is disabled by default). */
  cri?: boolean;
  /** containerd log level; `debug` makes containerd pass -debug to shims. */
  logLevel?: 'info' | 'debug';
  /** Namespace for ctr; unique by default. */
  namespace?: string;
  /** Extra environment for containerd, which its shims inherit. */
  env?: Record<string, string>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment containerd and ctr run with: clean, bin/ first on PATH (RECIPES). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: `${BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: '/root', ...extra };
}

/** Runs a command and collects its output; `timeoutMs` SIGKILLs it. */
export function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string | Buffer; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? cleanEnv(), timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 256 << 20, encoding: 'utf8', cwd: options.cwd },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 128 + (err.signal === 'SIGKILL' ? 9 : 15);
        resolvePromise({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** sha256(address/namespace/id) under /run/containerd/s: where a shim for `id` listens (PROTOCOL §3.1). */
export function shimSocketPath(address: string, namespace: string, id: string): string {
  return join(SHIM_SOCKET_DIR, createHash('sha256').update(join(address, namespace, id)).digest('hex'));
}

/** A running private containerd. */
export class Containerd {
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly root: string;
  readonly state: string;
  readonly log: string;
  /**
   * Where `ctr` makes its stdio FIFOs for this containerd (`--fifo-dir`, added by `ctr()`): under
   * our own directory, so that what a killed or failing ctr leaves goes with it at `stop`, not
   * into the machine's /run/containerd/fifo.
   */
  readonly fifoDir: string;
  private readonly extraRuncRoots = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly namespace: string,
    private process: ChildProcess | undefined,
    private readonly config: string,
    private readonly env: Record<string, string>,
  ) {
    this.address = join(dir, 'c.sock');
    this.ttrpcAddress = `${this.address}.ttrpc`;
    this.root = join(dir, 'root');
    this.state = join(dir, 'state');
    this.log = join(dir, 'containerd.log');
    this.fifoDir = join(dir, 'fifo');
  }

  /** Starts a private containerd and waits until it answers. */
  static async start(options: ContainerdOptions = {}): Promise<Containerd> {
    const dir = mkdtempSync('/tmp/tsct-'); // short: socket paths must stay under 108 bytes
    const namespace = options.namespace ?? `tsr${Math.random().toString(36).slice(2, 8)}`;
    const config = join(dir, 'config.toml');
    const ct = new Containerd(dir, namespace, undefined, config, options.env ?? {});
    writeFileSync(
      config,
      [
        'version = 2',
        `root = "${ct.root}"`,
        `state = "${ct.state}"`,
        options.cri ? '' : 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${ct.address}"`,
        '[ttrpc]',
        `  address = "${ct.ttrpcAddress}"`,
        '[debug]',
        `  address = "${join(dir, 'debug.sock')}"`,
        `  level = "${options.logLevel ?? 'info'}"`,
        '[metrics]',
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${join(dir, 'opt')}"`,
        options.extraConfig ?? '',
      ].join('\n') + '\n',
    );
    await ct.launch();
    return ct;
  }

  /** (Re)starts the containerd process on the same config, root and state. */
  async launch(): Promise<void> {
    const logFd = openSync(this.log, 'a');
    this.process = spawn('containerd', ['--config', this.config], { env: cleanEnv(this.env), stdio: ['ignore', logFd, logFd], cwd: this.dir });
    closeSync(logFd);
    const proc = this.process;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error(`containerd exited at start-up:\n${this.logTail()}`);
        return (await run('ctr', ['--address', this.address, 'version'], { timeoutMs: 5000 })).code === 0;
      },
      { timeoutMs: 30_000, what: 'containerd to answer' },
    );
  }

  /** containerd's pid. */
  get pid(): number {
    return this.process?.pid ?? -1;
  }

  /** SIGKILLs containerd (its shims and containers keep running) and waits for it to be gone. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Runs `ctr --address … --namespace … ARGS`. */
  ctr(args: readonly string[], options: { timeoutMs?: number; input?: string | Buffer; namespace?: string } = {}): Promise<RunResult> {
    return run('ctr', ['--address', this.address, '--namespace', options.namespace ?? this.namespace, ...this.withFifoDir(args)], options);
  }

  /** `args` with `--fifo-dir` after the subcommands that make FIFOs (`run`, `task exec`, `task start`). */
  withFifoDir(args: readonly string[]): string[] {
    const at = args[0] === 'run' ? 1 : args[0] === 'task' && (args[1] === 'exec' || args[1] === 'start') ? 2 : 0;
    return at === 0 ? [...args] : [...args.slice(0, at), '--fifo-dir', this.fifoDir, ...args.slice(at)];
  }

  /** Like `ctr`, but fails with the output when the exit code is not 0. */
  async ctrOk(args: readonly string[], options: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<string> {
    const r = await this.ctr(args, options);
    if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** The host pids `ctr task ps` lists for task `id`. */
  async taskPids(id: string): Promise<number[]> {
    const listing = await this.ctrOk(['task', 'ps', id]);
    return listing.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((p) => p > 0);
  }

  /** A runc root (besides /run/containerd/runc/<ns>) whose containers `stop` must delete. */
  registerRuncRoot(root: string): void {
    this.extraRuncRoots.add(root);
  }

  /** The bundle directory containerd makes for task `id`. */
  bundle(id: string, namespace = this.namespace): string {
    return join(this.state, 'io.containerd.runtime.v2.task', namespace, id);
  }

  /** The socket path a shim for `id` (or group key) listens on. */
  shimSocket(id: string, namespace = this.namespace): string {
    return shimSocketPath(this.address, namespace, id);
  }

  /** Pids of shim processes started for this containerd (their argv names its address). */
  shimPids(): number[] {
    return processesWithArgs(['-address', this.address]);
  }

  /** Pids of our spare shim daemons kept for this containerd (manager/spare.ts): not yet any task's. */
  sparePids(): number[] {
    return processesWithArgs(['spare']).filter((pid) => argvOf(pid).includes('-control') && envOf(pid, 'TTRPC_ADDRESS') === this.ttrpcAddress);
  }

  /**
   * True once shim `pid` serves nothing any more: it exited (a zombie its new parent has not reaped
   * yet counts), or — ours — it went back to being this containerd's spare (manager/spare.ts,
   * afterTask).
   */
  shimEnded(pid: number): boolean {
    return !running(pid) || this.sparePids().includes(pid);
  }

  /** Spares whose door is open: a `start` now is handed to one of them (door.ts names the door `<-control>-<pid>`). */
  readySparePids(): number[] {
    return this.sparePids().filter((pid) => {
      const argv = argvOf(pid);
      // a spare that forks a daemon per task names its door <prefix>-f<pid>
      const prefix = argv[argv.indexOf('-control') + 1] ?? '';
      return [`${prefix}-${pid}`, `${prefix}-f${pid}`].some((door) => {
        try {
          return statSync(door).isFIFO();
        } catch {
          return false;
        }
      });
    });
  }

  /** The lines of containerd's log (its shims' warnings included) that match `pattern`. */
  logLines(pattern: RegExp): string[] {
    try {
      return readFileSync(this.log, 'utf8')
        .split('\n')
        .filter((line) => pattern.test(line));
    } catch {
      return [];
    }
  }

  /** The last lines of containerd's log. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Stops containerd and removes everything it and its shims left. Safe to call twice. */
  async stop(): Promise<void> {
    const proc = this.process;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    const taskIds = listDir(join(this.state, 'io.containerd.runtime.v2.task', this.namespace));
    for (const root of [join('/run/containerd/runc', this.namespace), ...this.extraRuncRoots]) {
      for (const id of listDir(root)) await run('runc', ['--root', root, 'delete', '--force', id], { timeoutMs: 10_000 });
      rmQuiet(root);
    }
    const spares = this.sparePids();
    // a spare's -control is its door prefix; its door is <prefix>-<pid> (shim/manager/door.ts)
    const controls = spares.flatMap((pid) => {
      const prefix = argvOf(pid)[argvOf(pid).indexOf('-control') + 1] ?? '';
      return prefix.startsWith('/run/containerd/s/') ? [prefix, `${prefix}.opening`, `${prefix}-${pid}`, `${prefix}-f${pid}`] : [];
    });
    // and whatever else its shims started that carries its events address (a next spare's delay)
    const others = processTable()
      .map(([pid]) => pid)
      .filter((pid) => pid !== process.pid && envOf(pid, 'TTRPC_ADDRESS') === this.ttrpcAddress);
    for (const pid of [...this.shimPids(), ...spares, ...others]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const control of controls) for (const path of [control, `${control}.lock`]) unlinkQuiet(path);
    for (const id of taskIds) {
      const socket = this.shimSocket(id);
      if (existsSync(socket)) unlinkQuiet(socket);
    }
    unmountUnder(this.dir);
    removeCgroups(this.namespace);
    rmQuiet(this.dir);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function rmQuiet(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // left for the next run; nothing depends on it
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Pids whose argv contains `needle` as consecutive arguments. */
export function processesWithArgs(needle: readonly string[]): number[] {
  const pids: number[] = [];
  for (const name of listDir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = argvOf(Number(name));
    for (let i = 0; i + needle.length <= argv.length; i++) {
      if (needle.every((n, j) => argv[i + j] === n)) {
        pids.push(Number(name));
        break;
      }
    }
  }
  return pids;
}

/** Mount points at or under `dir` (deepest first). */
export function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\(\d{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return points.sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string): void {
  for (const point of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** Removes the cgroups containerd made for `namespace` in every v1 hierarchy and in the unified one. */
export function removeCgroups(namespace: string): void {
  const base = '/sys/fs/cgroup';
  for (const hierarchy of listDir(base)) {
    const top = join(base, hierarchy, namespace);
    if (existsSync(top)) removeCgroupTree(top);
  }
  const unified = join(base, 'unified', namespace);
  if (existsSync(unified)) removeCgroupTree(unified);
}

function removeCgroupTree(dir: string): void {
  for (const entry of listDir(dir)) {
    const child = join(dir, entry);
    if (isDirectory(child)) removeCgroupTree(child);
  }
  try {
    rmdirSync(dir);
  } catch {
    // still has processes; the runc delete above should have ended them
  }
}

/** Creates `dir` (and parents) if missing. */
export function ensureDir(dir: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true, mode });
  return dir;
}
