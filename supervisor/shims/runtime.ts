/**
 * Runtime name → shim binary, as containerd resolves it (PROTOCOL §2.1):
 *   - an absolute path is used as is (it must exist and be executable);
 *   - `io.containerd.X.vN` → the binary `containerd-shim-X-vN`, looked for first in the directory
 *     part of the name made absolute (for a dotted name: the daemon's working directory), then in
 *     PATH, then in the supervisor's own bin/ (where our `containerd-shim-tsrunc-v2` is).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';

/** containerd's `BinaryName`: `containerd-shim-<second-to-last>-<last>`, or '' when the name has no such form. */
export function shimBinaryName(runtime: string): string {
  const parts = runtime.split('.');
  if (parts.length < 2 || parts[0] === '') return '';
  return `containerd-shim-${parts[parts.length - 2] ?? ''}-${parts[parts.length - 1] ?? ''}`;
}

/** Where to look, and how. */
export interface ResolveOptions {
  /** PATH to search (the daemon's). */
  readonly path: string | undefined;
  /** The supervisor's own bin/ (last resort). */
  readonly binDir: string;
  /** The daemon's working directory. */
  readonly cwd?: string;
}

/** The absolute path of the shim binary for `runtime`; NotFound / InvalidArgument with a clear message. */
export function resolveRuntime(runtime: string, options: ResolveOptions): string {
  if (isAbsolute(runtime)) {
    if (!isExecutableFile(runtime)) throw new ErrdefsError('notFound', `runtime ${runtime}: no such executable`);
    return runtime;
  }
  const name = shimBinaryName(runtime);
  if (name === '' || runtime.includes('/')) {
    throw new ErrdefsError('invalidArgument', `runtime ${JSON.stringify(runtime)} is neither an absolute path nor a name like io.containerd.runc.v2`);
  }
  const candidates = [
    resolve(options.cwd ?? process.cwd(), dirname(runtime), name),
    ...(options.path ?? '').split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, name)),
    join(options.binDir, name),
  ];
  for (const candidate of candidates) if (isExecutableFile(candidate)) return candidate;
  throw new ErrdefsError('notFound', `runtime ${runtime}: binary ${name} not found in PATH or ${options.binDir}`);
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
