/**
 * A shim's `start` and `delete` run by hand as containerd runs them (test/helpers/shim-process.ts:
 * a fake bundle with config.json and the `log` FIFO held O_RDWR, containerd's argv, a clean
 * environment with TTRPC_ADDRESS), for any shim binary — ours, Go's, or ours under `node <flags>` —
 * plus the daemon's first answer (Task.Connect) and its shutdown. Timings with performance.now.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanEnv, processesWithArgs } from '../../test/helpers/containerd';
import { connectTask } from '../../test/helpers/shim-client';
import { type FakeBundle, SHIM, fakeBundle } from '../../test/helpers/shim-process';
import { waitFor } from '../../test/helpers/wait';

export { SHIM };
/** Go's shim binary. */
export const GO_SHIM = '/usr/bin/containerd-shim-runc-v2';

/** How to run a shim binary: the command and arguments before containerd's flags. */
export interface ShimCommand {
  command: string;
  prefix: readonly string[];
  /** Extra environment (e.g. NODE_OPTIONS). */
  env?: Record<string, string>;
}

export const OURS: ShimCommand = { command: SHIM, prefix: [] };
export const GOS: ShimCommand = { command: GO_SHIM, prefix: [] };

/** Now as epoch ms with sub-ms precision (comparable across processes, unlike performance.now). */
export function epoch(): number {
  return performance.timeOrigin + performance.now();
}

/** An action's exit code, output and wall time. */
export interface ActionTiming {
  code: number;
  ms: number;
  /** Epoch ms at spawn and at exit. */
  spawnedAt: number;
  exitedAt: number;
  pid: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, timing it from spawn to exit (output collected). */
export function timedExec(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ActionTiming> {
  return new Promise((resolve) => {
    const spawnedAt = epoch();
    const child = execFile(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const exitedAt = epoch();
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, ms: exitedAt - spawnedAt, spawnedAt, exitedAt, pid: child.pid ?? -1, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined); // EPIPE: the command exited without reading its stdin
    child.stdin?.end(options.input ?? '');
  });
}

/** `<shim> -namespace … -address … -publish-binary … -id … [-bundle …] ACTION` in the bundle. */
export function shimAction(shim: ShimCommand, b: FakeBundle, action: 'start' | 'delete'): Promise<ActionTiming> {
  const args = [...shim.prefix, '-namespace', b.namespace, '-address', b.address, '-publish-binary', '/usr/bin/containerd', '-id', b.id];
  if (action === 'delete') args.push('-bundle', b.bundle);
  args.push(action);
  return timedExec(shim.command, args, { cwd: b.bundle, env: cleanEnv({ TTRPC_ADDRESS: `${b.address}.ttrpc`, ...shim.env }) });
}

/**
 * A fake bundle for both shims: test/helpers/shim-process.ts's, plus the empty `runtime` file that
 * Go's shim writes at Create and its `delete` insists on reading (empty = the default runc).
 */
export function bundleFor(id: string, namespace: string): FakeBundle {
  const b = fakeBundle(id, namespace);
  writeFileSync(join(b.bundle, 'runtime'), '');
  return b;
}

/** The daemon's first answer: ms from the call, epoch ms when it came, the daemon's pid, and a second call's latency. */
export interface FirstAnswer {
  ms: number;
  at: number;
  pid: number;
  secondMs: number;
  /** CLOCK_MONOTONIC µs when the first answer came (comparable with V8 CPU profile timestamps). */
  atMonoUs: number;
}

/** Connects to the bundle's shim socket and times the first Task.Connect answer (ms from now), then a second call. */
export async function firstAnswer(b: FakeBundle): Promise<FirstAnswer> {
  const t0 = epoch();
  const { task, close } = await connectTask(b.socket);
  try {
    const { shimPid } = await task.connect({ id: b.id });
    const at = epoch();
    const atMonoUs = Number(process.hrtime.bigint() / 1000n);
    await task.connect({ id: b.id });
    return { ms: at - t0, at, pid: shimPid, secondMs: epoch() - at, atMonoUs };
  } finally {
    await close();
  }
}

/** True while `pid` runs (a zombie waiting for PID 1 to reap it counts as gone). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Asks the daemon to shut down (no container: it exits), SIGKILLs it after 3 s, waits until it is gone. */
export async function stopDaemon(b: FakeBundle, pid: number): Promise<void> {
  try {
    const { task, close } = await connectTask(b.socket);
    await task.shutdown({ id: b.id, now: true }).catch(() => undefined);
    await close();
  } catch {
    // not answering: killed below
  }
  await waitFor(() => !running(pid), { timeoutMs: 3000, what: `shim ${pid} to exit` }).catch(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  await waitFor(() => !running(pid), { timeoutMs: 3000, what: `shim ${pid} to die` });
}

/** Removes what a hand-run shim may leave: a daemon still running (SIGKILL), its socket, the namespace's runc root, the bundle. */
export function removeLeftovers(b: FakeBundle): void {
  for (const pid of processesWithArgs(['-address', b.address])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (existsSync(b.socket)) {
    try {
      unlinkSync(b.socket);
    } catch {
      // gone
    }
  }
  rmSync(join('/run/containerd/runc', b.namespace), { recursive: true, force: true });
  b.remove();
}
