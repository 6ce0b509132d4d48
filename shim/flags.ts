/**
 * The shim's command line, as containerd writes it (Go `flag` style, PROTOCOL §2.3 and §4.1):
 *
 *   start:  -namespace NS -address ADDR -publish-binary EXE -id ID [-debug] start
 *   delete: -namespace NS -address ADDR -publish-binary EXE -id ID -bundle B [-debug] delete
 *   daemon: -namespace NS -id ID -address ADDR -socket SOCKET [-debug]     (no action word)
 *   spare:  -control PATH [-request PID:ARGC] spare [padding]   (ours: a pre-started daemon, or one
 *           started for one request; manager/spare.ts)
 *
 * Single or double dash, `-flag value` or `-flag=value`; boolean flags take no value (or `=true`).
 * The action is the first argument that is not a flag. Environment: TTRPC_ADDRESS (events endpoint),
 * and from containerd 1.7 GRPC_ADDRESS, NAMESPACE, MAX_SHIM_VERSION.
 */

export type Action = 'start' | 'delete' | 'serve' | 'spare' | 'version' | 'info';

export interface ShimFlags {
  action: Action;
  namespace: string;
  id: string;
  /** containerd's gRPC socket path (a bare path; `unix://` stripped). */
  address: string;
  publishBinary: string;
  bundle: string;
  /** The daemon's own socket (`unix://…`), passed by `start`. */
  socket: string;
  debug: boolean;
  /** containerd's ttrpc socket for events (a bare path). */
  ttrpcAddress: string;
  /** A spare's door prefix (`-control`). */
  control: string;
  /** A spare started for one request: `<pid>:<argc>` of the shell that asked (`-request`). */
  request: string;
  /** Highest bootstrap reply version the caller accepts (2 for containerd 1.7, 3 for 2.x); 0 when unset (1.6). */
  maxShimVersion: number;
}

/** A command-line mistake: the entry point prints it and exits 1 (as Go's flag package does). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const STRING_FLAGS = new Map<string, keyof ShimFlags>([
  ['namespace', 'namespace'],
  ['id', 'id'],
  ['address', 'address'],
  ['publish-binary', 'publishBinary'],
  ['bundle', 'bundle'],
  ['socket', 'socket'],
  ['control', 'control'],
  ['request', 'request'],
]);
const BOOL_FLAGS = new Set(['debug', 'v', 'info']);
const ACTIONS = new Set(['start', 'delete', 'spare']);

/** Parses argv (without node and script) and the environment. */
export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): ShimFlags {
  const flags: ShimFlags = {
    action: 'serve',
    namespace: env['NAMESPACE'] ?? '',
    id: '',
    address: stripUnix(env['GRPC_ADDRESS'] ?? ''),
    publishBinary: '',
    bundle: '',
    socket: '',
    debug: false,
    ttrpcAddress: stripUnix(env['TTRPC_ADDRESS'] ?? ''),
    maxShimVersion: Number.parseInt(env['MAX_SHIM_VERSION'] ?? '0', 10) || 0,
    control: '',
    request: '',
  };
  let version = false;
  let info = false;
  let action: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (action === undefined && arg.startsWith('-') && arg !== '-' && arg !== '--') {
      const body = arg.replace(/^--?/, '');
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
      const key = STRING_FLAGS.get(name);
      if (key) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`flag needs an argument: -${name}`);
        (flags[key] as string) = key === 'address' ? stripUnix(value) : value;
      } else if (BOOL_FLAGS.has(name)) {
        const on = parseBool(name, inline);
        if (name === 'debug') flags.debug = on;
        else if (name === 'v') version = on;
        else info = on;
      } else {
        throw new UsageError(`flag provided but not defined: -${name}`);
      }
    } else if (action === undefined) {
      if (arg === '--') continue;
      action = arg;
    } else if (!(action === 'spare' && arg.trim() === '')) {
      // (a spare's blank padding reserves argv room for the title it takes when adopted)
      throw new UsageError(`unexpected argument after ${action}: ${arg}`);
    }
  }
  if (version) flags.action = 'version';
  else if (info) flags.action = 'info';
  else if (action !== undefined) {
    if (!ACTIONS.has(action)) throw new UsageError(`unknown action: ${action}`);
    flags.action = action as 'start' | 'delete' | 'spare';
  }
  return flags;
}

function parseBool(name: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1' || value === 't' || value === 'T' || value === 'TRUE' || value === 'True') return true;
  if (value === 'false' || value === '0' || value === 'f' || value === 'F' || value === 'FALSE' || value === 'False') return false;
  throw new UsageError(`invalid boolean value "${value}" for -${name}`);
}

/** `unix:///x` → `/x`; a bare path is returned as is. */
export function stripUnix(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}
