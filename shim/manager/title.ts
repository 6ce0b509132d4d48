/**
 * The process title of a task's daemon, spawned or a spare that took the task: the shim's name and
 * the task's flags, as Go's server shows `containerd-shim-runc-v2 -namespace … -id … -address …`.
 * Node sets the kernel's comm from it (its first 15 bytes): `containerd-shim`, as Go's and our
 * spares' — not `node`, which `pgrep containerd-shim` or `ps -C containerd-shim` would miss. The
 * bare name, not a path: a path would make comm the path's first 15 bytes.
 */
import { type ShimFlags } from '../flags';

export const SHIM_NAME = 'containerd-shim-tsrunc-v2';

export function taskTitle(flags: Pick<ShimFlags, 'namespace' | 'id' | 'address' | 'socket' | 'debug'>): string {
  const words = [SHIM_NAME, '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address, '-socket', flags.socket];
  if (flags.debug) words.push('-debug');
  return words.join(' ');
}
