/**
 * A private `tsrunc daemon` for tests: its own root (a short temp dir: socket paths must stay under
 * 108 bytes) and a unique namespace (runc state, shim sockets and cgroups are per namespace), the
 * CLI run as a child process against it, and an exact cleanup: containers removed through the
 * daemon, then — for whatever a test left behind on purpose (killed daemons, killed shims) — the
 * shims, log drivers and containers of this root by pid, runc state, mounts, cgroups and shim
 * sockets. Never anything by a broad pattern.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, type RunResult, mountsUnder, processesWithArgs, removeCgroups, run } from './containerd';
import { alive } from './proc';
import { waitFor } from './wait';

/** The `tsrunc` launcher. */
export const TSRUNC = join(BIN, 'tsrunc');

let counter = 0;

/** One container as `ps --json` / `inspect` show it (the fields tests look at). */
export interface ContainerJson {
  id: string;
  name: string;
  status: 'created' | 'running' | 'exited' | 'paused' | 'pausing' | 'unknown';
  pid: number;
  exitStatus: number | null;
  error: string | null;
  runtime: string;
  runtimeBinary: string;
  bundle: string;
  logDir: string;
  shim: { address: string; version: number; binary: string } | null;
  restartCount: number;
  restarting: boolean;
  restartPolicy: { name: string; maxRetries: number } | null;
  logConfig: { maxSize: number; maxFiles: number } | null;
}

/** A daemon and its root. */
export class Supervisor {
  readonly root: string;
  readonly namespace: string;
  private daemon: ChildProcess | undefined;
  private daemonExit: Promise<void> | undefined;
  /** Container ids ever seen, for cleanup of what a test left behind. */
  private readonly ids = new Set<string>();

  constructor() {
    this.root = mkdtempSync('/tmp/tsv-');
    counter++;
    this.namespace = `tsv${process.pid.toString(36)}${counter.toString(36)}`;
  }

  /** The API socket. */
  get apiSocket(): string {
    return join(this.root, 'run', 'tsrunc.sock');
  }

  /** The daemon's log file (appended to by every daemon started here). */
  get logFile(): string {
    return join(this.root, 'daemon.log');
  }

  /** The running daemon's pid. */
  get pid(): number {
    const pid = this.daemon?.pid;
    if (pid === undefined || this.daemon?.exitCode !== null) throw new Error('the daemon is not running');
    return pid;
  }

  /** Starts `tsrunc daemon` and waits until it answers. */
  async startDaemon(): Promise<void> {
    const log = openSync(this.logFile, 'a');
    try {
      this.daemon = spawn(process.execPath, [TSRUNC, '--root', this.root, 'daemon', '--namespace', this.namespace, '--debug'], {
        stdio: ['ignore', log, log],
        env: cliEnv(),
      });
    } finally {
      closeSync(log);
    }
    const child = this.daemon;
    this.daemonExit = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the daemon exited with ${child.exitCode}: ${this.daemonLog().slice(-2000)}`);
        return existsSync(this.apiSocket) && (await this.cli(['version'])).code === 0;
      },
      { timeoutMs: 20_000, what: 'the tsrunc daemon to answer' },
    );
  }

  /** SIGKILLs the daemon (a crash) and waits for it to be gone. */
  async killDaemon(): Promise<void> {
    this.daemon?.kill('SIGKILL');
    await this.daemonExit;
    this.daemon = undefined;
  }

  /** Stops the daemon gracefully (SIGTERM). */
  /** SIGTERM; SIGKILL if the daemon has not exited 10 s later. Says which ended it. */
  async stopDaemon(): Promise<'exited' | 'killed' | 'not running'> {
    if (this.daemon === undefined || this.daemon.exitCode !== null) return 'not running';
    this.daemon.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.daemonExit, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    let ended: 'exited' | 'killed' = 'exited';
    if (this.daemon.exitCode === null && this.daemon.signalCode === null) {
      this.daemon.kill('SIGKILL');
      await this.daemonExit;
      ended = 'killed';
    }
    this.daemon = undefined;
    return ended;
  }

  /** Runs `tsrunc --root ROOT ARGS…`. */
  async cli(args: readonly string[], options: { timeoutMs?: number; asNobody?: boolean; cwd?: string } = {}): Promise<RunResult> {
    const argv = [TSRUNC, '--root', this.root, ...args];
    const common = { env: cliEnv(), timeoutMs: options.timeoutMs ?? 60_000, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) };
    const result =
      options.asNobody === true
        ? await run('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', process.execPath, ...argv], common)
        : await run(process.execPath, argv, common);
    for (const m of result.stdout.matchAll(/\b[0-9a-f]{12}\b/g)) this.ids.add(m[0]);
    return result;
  }

  /** Runs the CLI and fails with its output unless it exits 0; returns stdout. */
  async ok(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.cli(args, options);
    if (r.code !== 0) throw new Error(`tsrunc ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Waits until container `ref` runs again after `count` restarts (by its policy); its inspect then. */
  restarted(ref: string, count: number, what: string): Promise<ContainerJson> {
    return waitFor(
      async () => {
        const c = await this.inspect(ref);
        return c.status === 'running' && c.restartCount === count ? c : undefined;
      },
      { timeoutMs: 20_000, what },
    );
  }

  /** `inspect` of one container. */
  async inspect(ref: string): Promise<ContainerJson> {
    const [c] = JSON.parse(await this.ok(['inspect', ref])) as ContainerJson[];
    if (c === undefined) throw new Error(`inspect ${ref} printed nothing`);
    this.ids.add(c.id);
    return c;
  }

  /** `ps -a --json`. */
  async list(): Promise<ContainerJson[]> {
    const all = JSON.parse(await this.ok(['ps', '-a', '--json'])) as ContainerJson[];
    for (const c of all) this.ids.add(c.id);
    return all;
  }

  /** The daemon's log so far. */
  daemonLog(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The raw captured output of a container (its log files, oldest first), as the driver wrote them. */
  logText(logDir: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
    if (!existsSync(logDir)) return '';
    const rotated = readdirSync(logDir)
      .map((n) => /^container\.log\.(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))
      .map((m) => m[0]);
    let text = '';
    for (const name of [...rotated, 'container.log']) {
      let content: string;
      try {
        content = readFileSync(join(logDir, name), 'utf8');
      } catch {
        continue;
      }
      for (const line of content.split('\n')) {
        if (line === '') continue;
        try {
          const r = JSON.parse(line) as { log?: string; stream?: string };
          if (r.stream === stream && typeof r.log === 'string') text += r.log;
        } catch {
          // a line being written
        }
      }
    }
    return text;
  }

  /**
   * Changes a container's record on disk, as a daemon that died part-way would have left it. Only
   * while no daemon runs (one that runs would overwrite it).
   */
  editRecord(id: string, change: (record: Record<string, unknown>) => void): void {
    if (this.daemon !== undefined) throw new Error('editRecord: stop or kill the daemon first');
    const file = join(this.root, 'lib', 'containers', `${id}.json`);
    const record = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    change(record);
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Pids of the shim servers of this root (Go's and ours both carry `-id ID -address <api socket>`). */
  shimPids(id?: string): number[] {
    return id === undefined ? processesWithArgs(['-address', this.apiSocket]) : processesWithArgs(['-id', id, '-address', this.apiSocket]);
  }

  /** Pids of log drivers writing under this root. */
  logDriverPids(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
        if (argv.includes('log-driver') && argv.some((a) => a.startsWith(join(this.root, 'lib')))) pids.push(Number(name));
      } catch {
        // gone
      }
    }
    return pids;
  }

  /** Where a shim of this root listens for task `id` (PROTOCOL §3.1: both shims hash the same way). */
  shimSocket(id: string): string {
    return join('/run/containerd/s', createHash('sha256').update(join(this.apiSocket, this.namespace, id)).digest('hex'));
  }

  /** Removes everything: containers through the daemon, then leftovers by pid and path. */
  async cleanup(): Promise<void> {
    if (this.daemon !== undefined && this.daemon.exitCode === null) {
      try {
        for (const c of await this.list()) await this.cli(['rm', '-f', c.id], { timeoutMs: 30_000 });
      } catch {
        // the daemon may be wedged: the leftovers below are removed anyway
      }
      await this.stopDaemon();
    }
    for (const pid of this.shimPids()) kill(pid);
    const runcRoot = join(this.root, 'run', 'runc', this.namespace);
    if (existsSync(runcRoot)) {
      for (const id of readdirSync(runcRoot)) {
        try {
          execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
        } catch {
          // gone
        }
      }
    }
    await waitFor(() => this.logDriverPids().length === 0, { timeoutMs: 15_000, what: 'the log drivers to exit' }).catch(() => this.logDriverPids().forEach(kill));
    for (const point of mountsUnder(this.root)) {
      try {
        execFileSync('umount', ['-l', point], { stdio: 'ignore' });
      } catch {
        // gone
      }
    }
    removeCgroups(join('tsrunc', this.namespace));
    for (const id of this.ids) rmSync(this.shimSocket(id), { force: true });
    rmSync(this.root, { recursive: true, force: true });
  }
}

function kill(pid: number): void {
  try {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

function cliEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
}

/** `sh -c` script printing `count` numbered lines (`1`, `2`, …), one every `intervalMs`, then sleeping. */
export function countingScript(count: number | 'forever', intervalMs = 10): string {
  const sleep = (intervalMs / 1000).toFixed(3);
  const cond = count === 'forever' ? 'true' : `[ $i -lt ${count} ]`;
  return `i=0; while ${cond}; do i=$((i+1)); echo $i; sleep ${sleep}; done; sleep 1000`;
}

/** Checks that `text` is exactly the lines 1..n (n ≥ min); returns n. */
export function checkNumbered(text: string, min: number): number {
  const lines = text.split('\n').filter((l) => l !== '');
  lines.forEach((l, i) => {
    if (l !== String(i + 1)) throw new Error(`line ${i + 1} is ${JSON.stringify(l)} (lost, duplicated or out of order); around it: ${lines.slice(Math.max(0, i - 3), i + 3).join(',')}`);
  });
  if (lines.length < min) throw new Error(`only ${lines.length} lines, expected at least ${min}`);
  return lines.length;
}
