/**
 * Where the supervisor keeps things, for the daemon and the client alike.
 *
 *   default:            records and logs in /var/lib/tsrunc, sockets, bundles and FIFOs in /run/tsrunc
 *   --root DIR / TSRUNC_ROOT=DIR:  DIR/lib and DIR/run
 *
 * `lib` survives reboots (container records, captured output); `run` is runtime state (the API and
 * events sockets, task bundles with their `log` FIFOs, runc's state). Both are created 0700: the API
 * socket inside `run` is reachable by root only, whatever its own mode.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateIdentifier } from './util/identifiers';

/** The default namespace of the daemon's tasks (runc state, shim sockets and cgroups are per namespace). */
export const DEFAULT_NAMESPACE = 'tsrunc';
/** The runtime used when `run` names none: our shim. */
export const DEFAULT_RUNTIME = 'io.containerd.tsrunc.v2';
/** The longest unix socket path the kernel accepts (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** Every path the daemon and the client derive from the root. */
export interface Paths {
  /** The `--root` given, or undefined for the system defaults. */
  readonly root: string | undefined;
  /** Persistent state: container records and logs. */
  readonly lib: string;
  /** Runtime state: sockets, bundles, FIFOs, runc state. */
  readonly run: string;
  /** The gRPC API socket. */
  readonly apiSocket: string;
  /** The ttrpc events endpoint shims publish to (TTRPC_ADDRESS). */
  readonly eventsSocket: string;
  /** The daemon's pid file. */
  readonly pidFile: string;
  /** Container records (one JSON file each). */
  readonly containers: string;
  /** Captured output, `<tasks>/<namespace>/<id>/`. */
  readonly tasks: string;
  /** Task bundles, `<bundles>/<namespace>/<id>/`. */
  readonly bundles: string;
  /** runc's state root (the namespace is appended by the shim). */
  readonly runcRoot: string;
}

/** The paths for `root` (undefined: /var/lib/tsrunc and /run/tsrunc). */
export function pathsFor(root: string | undefined): Paths {
  const abs = root === undefined || root === '' ? undefined : resolve(root);
  const lib = abs === undefined ? '/var/lib/tsrunc' : join(abs, 'lib');
  const run = abs === undefined ? '/run/tsrunc' : join(abs, 'run');
  return {
    root: abs,
    lib,
    run,
    apiSocket: join(run, 'tsrunc.sock'),
    eventsSocket: join(run, 'events.sock'),
    pidFile: join(run, 'tsrunc.pid'),
    containers: join(lib, 'containers'),
    tasks: join(lib, 'tasks'),
    bundles: join(run, 'tasks'),
    runcRoot: join(run, 'runc'),
  };
}

/** The daemon's configuration. */
export interface DaemonConfig {
  readonly paths: Paths;
  /** Namespace given to shims (`-namespace`). */
  readonly namespace: string;
  /** The project's bin/ directory: `tsrunc` (publish binary, log driver) and our shim. */
  readonly binDir: string;
  /** Default per-task output cap, bytes per file, and number of files kept. */
  readonly logMaxSize: number;
  readonly logMaxFiles: number;
  /** Verbose daemon log. */
  readonly debug: boolean;
}

/** bin/ of this checkout: dist/supervisor/config.js → <repo>/bin. */
export function defaultBinDir(): string {
  return resolve(__dirname, '..', '..', 'bin');
}

/** The `tsrunc` launcher: what shims get as `-publish-binary`, and the binary:// log driver. */
export function tsruncBinary(binDir: string): string {
  return join(binDir, 'tsrunc');
}

/** Builds the daemon configuration, with defaults for what is not given. */
export function daemonConfig(options: { root?: string | undefined; namespace?: string | undefined; debug?: boolean | undefined }): DaemonConfig {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  // a path element of the bundles and logs, and what the shims' events must name (as containerd's)
  validateIdentifier(namespace);
  return {
    paths: pathsFor(options.root),
    namespace,
    binDir: defaultBinDir(),
    logMaxSize: 10 * 1024 * 1024,
    logMaxFiles: 3,
    debug: options.debug ?? false,
  };
}

/** Throws when a socket path is too long for the kernel, naming it and the remedy. */
export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new Error(`socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter --root`);
  }
}

/** The root from the command line or TSRUNC_ROOT. */
export function rootFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag ?? (env['TSRUNC_ROOT'] !== undefined && env['TSRUNC_ROOT'] !== '' ? env['TSRUNC_ROOT'] : undefined);
}

/**
 * Why the daemon's API socket cannot be used, checked before dialling for a clear error:
 * 'missing' (no daemon on this root), 'denied' (not ours to reach: the run directory is 0700), or
 * undefined when it is there.
 */
export function apiSocketProblem(paths: Paths): 'missing' | 'denied' | undefined {
  try {
    statSync(paths.apiSocket);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'denied' : 'missing';
  }
}
