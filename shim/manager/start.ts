/**
 * The `start` action (PROTOCOL §2.4, §2.5): make sure a shim daemon serves this task's group, print
 * its address, exit. Usually the spare daemon does all of it in-process, handed the request by the
 * shell entry point through its door (spare.ts, door.ts); this Node action is the path when no
 * spare could, and it starts one for the next task. Nothing but the address may reach stdout/stderr (containerd reads both as the
 * address), and this process starts once per container, so it loads no protobufjs, no logger, no
 * koffi: node built-ins and a few small modules only.
 *
 *  1. group key = annotation io.containerd.runc.v2.group, else io.kubernetes.cri.sandbox-id, else id;
 *  2. address = unix:///run/containerd/s/<sha256(address/namespace/key)>;
 *  3. listen (0600); a live socket means a daemon already serves the group: write `address`, print it;
 *  4. write `address` atomically; spawn the daemon detached (its own session), the listener as fd 3;
 *  5. ShimCgroup from the runtime options on stdin; oom_score_adj = containerd's + 1;
 *  6. write `shim.pid` atomically; print the address.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { joinCgroup } from '../cgroups/join';
import { OptionsError, decodeAny, decodeOptions, defaultOptions, type RuncOptions } from '../container/options';
import { type ShimFlags } from '../flags';
import { writeFileAtomic } from '../util/atomic-file';
import { identifierProblem } from '../util/validate';
import { listen, socketAddress, socketPath } from './socket';
import { forgetDeleteAnswer } from './delete-answer';
import { doorPrefix } from './door';
import { forkingOn, sparesEnabled, spawnSpare } from './spare-client';
import { removeQuiet } from '../util/remove';

/** Annotations that group containers into one shim, in order of precedence. */
export const GROUP_ANNOTATIONS = ['io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id'] as const;

/**
 * The daemon's environment: `start`'s (containerd's, with its GOMAXPROCS=2 and TTRPC_ADDRESS) plus
 * GOMAXPROCS=4, as Go's shim gives its server (PROTOCOL §2.5). Node ignores it; runc, a Go program,
 * inherits it: `runc exec --detach` of /bin/true, 100 calls each alternating, took medians of
 * 13.1–14.1 ms with 2 and 12.9–13.3 with 4 (three runs, 2 cores); under our daemon runc lived 0.5 ms
 * longer than under Go's.
 */
export function daemonEnv(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  return { ...env, GOMAXPROCS: '4' };
}

/**
 * Node options the daemon runs with; bin/containerd-shim-tsrunc-v2 starts spares with the same.
 * Node options only, no V8 flag: any V8 flag (`--max-semi-space-size`, `--lite-mode`, …) changes
 * V8's flag hash, and V8 then rejects Node's own code cache of its built-in modules — each one the
 * daemon loads is compiled from source, ~12 ms of CPU more per daemon for crypto, net,
 * child_process and perf_hooks alone (docs/benchmarks.md).
 */
export const DAEMON_NODE_OPTIONS = ['--v8-pool-size=1'];

/**
 * The shared spare's options when it forks (unless TSRUNC_SPARE_FORK=0; bin/containerd-shim-tsrunc-v2
 * start_spare uses the same): the daemon's, and V8's `--single-threaded`, without which a process
 * cannot fork (native/fork.ts). It costs the spare Node's code cache of its built-in modules
 * (~10 ms, once: what it loads, its forks inherit compiled); a spare that never forks goes without.
 * Once one V8 flag is there, more cost nothing, and the forks, most daemons, get the memory ones:
 *  - `--max-semi-space-size=1` (MiB): V8 doubles the young generation up to 2 × 16 MiB while
 *    calls keep allocating, and each page of it a daemon wrote stays its own (15.6 MiB of it after
 *    800 execs in one daemon; in the bench, a grouped daemon's PSS after its 800 execs went 9.7 →
 *    8.5 MiB per container);
 *  - `--expose-gc`: the full collection once calls stop coming (util/idle-reclaim.ts), and
 *    `--compact-on-every-full-gc` so that it moves what is live off half-empty pages and gives them
 *    back: without it the collection freed 3 MiB of objects after 400 execs and not one page;
 *  - `--no-memory-reducer`: V8's memory reducer, on a timer it schedules after a full collection,
 *    compacted idle forks on its own some seconds after their start, which made their heap their
 *    own: an idle fork owned 6.3 MiB 20 s after its start with it, 4.3–4.8 without, and the spare
 *    5.9 against 3.4. A daemon that worked gets its memory back from the collector's idle collection;
 *  - `--max-opt=1`: V8 compiles hot functions to baseline code (Sparkplug) and no further. With
 *    `--single-threaded` the optimising compiler runs on the main thread, and a daemon's calls are
 *    too few to pay for it: over 200 execs per daemon a fork spent 4.75 ms of CPU per exec against
 *    5.2 with it, and kept 6.8–6.9 MiB of its own after the idle collections against 7.4–7.5
 *    (optimised code and its deoptimisation data; docs/benchmarks.md). The stdout copier, a fork
 *    too, moves ~4 % fewer MiB/s.
 */
export const FORKING_SPARE_NODE_OPTIONS = [...DAEMON_NODE_OPTIONS, '--single-threaded', '--max-semi-space-size=1', '--expose-gc', '--compact-on-every-full-gc', '--no-memory-reducer', '--max-opt=1'];

/** Runs `start` (the Node entry point: no spare took it); returns the address to print. */
export async function start(flags: ShimFlags, script: string): Promise<string> {
  const bundle = process.cwd();
  const address = taskAddress(flags, bundle);
  forgetDeleteAnswer(bundle);
  const path = socketPath(address);
  const options = decodeStartOptions(readStdin());
  // No spare took this task (bin/containerd-shim-tsrunc-v2 tried): start one for the next task.
  if (sparesEnabled(process.env)) spawnSpare(doorPrefix(process.ppid), script, forkingOn(process.env) ? FORKING_SPARE_NODE_OPTIONS : DAEMON_NODE_OPTIONS);
  const listener = await listen(path, loadNative);
  if ('inUse' in listener) {
    writeFileAtomic(join(bundle, 'address'), address);
    return address;
  }
  try {
    writeFileAtomic(join(bundle, 'address'), address);
    const pid = spawnDaemon(flags, address, listener.fd, bundle, script);
    try {
      settleDaemon(pid, options, bundle, process.ppid);
    } catch (err) {
      process.kill(pid, 'SIGKILL');
      throw err;
    }
  } catch (err) {
    removeQuiet(path); // never leave our own stale socket behind
    throw err;
  }
  return address;
}

/** Checks the flags `start` needs and returns the task's socket address (its group's). */
export function taskAddress(flags: ShimFlags, bundle: string): string {
  for (const [name, value] of [
    ['namespace', flags.namespace],
    ['id', flags.id],
  ] as const) {
    const problem = identifierProblem(value);
    if (problem) throw new Error(`invalid ${name} "${value}": ${problem}`);
  }
  if (!flags.address) throw new Error('-address is required');
  const key = groupKey(bundle) ?? flags.id;
  return socketAddress(flags.address, flags.namespace, key);
}

/**
 * ShimCgroup, oom score (the runner's + 1), shim.pid: for a spawned daemon and an adopted spare
 * alike. `runner`: the pid of the process that runs the shim (containerd).
 */
export function settleDaemon(pid: number, options: RuncOptions, bundle: string, runner: number): void {
  if (options.shimCgroup) joinCgroup(pid, options.shimCgroup);
  adjustOomScore(pid, runner);
  writeFileAtomic(join(bundle, 'shim.pid'), String(pid));
}

/** The group key from the bundle's config.json annotations, if any. */
export function groupKey(bundle: string): string | undefined {
  let spec: { annotations?: Record<string, unknown> };
  try {
    spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as typeof spec;
  } catch {
    return undefined; // no readable spec: the task id is the key (Go does the same)
  }
  for (const name of GROUP_ANNOTATIONS) {
    const value = spec.annotations?.[name];
    if (typeof value === 'string' && value !== '') {
      const problem = identifierProblem(value);
      if (problem) throw new Error(`invalid ${name} annotation "${value}": ${problem}`);
      return value;
    }
  }
  return undefined;
}

function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch {
    return Buffer.alloc(0); // no stdin (closed): no options
  }
}

/**
 * The runtime options containerd writes on `start`'s stdin. `start` needs only ShimCgroup from
 * them; options it cannot decode are left for Create, which answers InvalidArgument with the reason
 * (a failing `start` would reach the user only as "exit status 1").
 */
export function decodeStartOptions(data: Buffer): RuncOptions {
  try {
    return decodeOptions(data.length > 0 ? decodeAny(data) : null);
  } catch (err) {
    if (err instanceof OptionsError) return defaultOptions();
    throw err;
  }
}

function spawnDaemon(flags: ShimFlags, address: string, listenerFd: number, bundle: string, script: string): number {
  const args = [...process.execArgv, ...DAEMON_NODE_OPTIONS, script, '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address, '-socket', address];
  if (flags.debug) args.push('-debug');
  // detached: setsid, its own session (the shim outlives the terminal or cgroup scope it came from);
  // stdio /dev/null: containerd waits for EOF on start's stdout/stderr pipe.
  const child = spawn(process.execPath, args, { cwd: bundle, env: daemonEnv(process.env), stdio: ['ignore', 'ignore', 'ignore', listenerFd], detached: true });
  if (child.pid === undefined) throw new Error(`cannot start the shim daemon (${process.execPath})`);
  child.unref();
  return child.pid;
}

/** containerd's oom_score_adj + 1: the shim dies before containerd. */
function adjustOomScore(pid: number, runner: number): void {
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${runner}/oom_score_adj`, 'utf8'), 10);
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(Math.min(parent + 1, 1000)));
  } catch {
    // raising the score never needs CAP_SYS_RESOURCE; if /proc refuses anyway, keep the inherited one
  }
}
