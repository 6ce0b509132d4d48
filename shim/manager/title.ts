/**
 * The process title of a task's daemon, spawned or a spare that took the task: the shim's name and
 * the task's flags, as Go's server shows `containerd-shim-runc-v2 -namespace … -id … -address …`.
 * Node sets the kernel's comm from it (its first 15 bytes): `containerd-shim`, as Go's — not `node`,
 * which `pgrep containerd-shim` or `ps -C containerd-shim` would miss. The bare name, not a path: a
 * path would make comm the path's first 15 bytes.
 *
 * A spare (no task) is titled `containerd-shim-tsrunc-v2 -control <door prefix> spare`, and its
 * comm is then set to `tsrunc@<runner pid>` (spareComm): the shell entry point takes a door for a
 * live spare's only while the door's pid shows that comm (bin/containerd-shim-tsrunc-v2
 * live_door). A comm is one short read; the title is ~600 bytes of cmdline (the argv padding),
 * which dash reads one byte per syscall: ~1 ms per knock. `containerd-shim` alone would not do: a
 * killed spare's pid, reused by any shim (ours or Go's), would pass, and the knock would wait out
 * the shell's 3 s watchdog. A task's title resets comm to `containerd-shim`.
 */
import { writeFileSync } from 'node:fs';
import { type ShimFlags } from '../flags';

export const SHIM_NAME = 'containerd-shim-tsrunc-v2';

export function taskTitle(flags: Pick<ShimFlags, 'namespace' | 'id' | 'address' | 'socket' | 'debug'>): string {
  const words = [SHIM_NAME, '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address, '-socket', flags.socket];
  if (flags.debug) words.push('-debug');
  return words.join(' ');
}

export function spareTitle(doorPrefix: string): string {
  return `${SHIM_NAME} -control ${doorPrefix} spare`;
}

/** `tsrunc@<runner pid>`: at most 14 bytes (pid_max ≤ 4194304), within comm's 15. */
export function spareComm(runner: number): string {
  return `tsrunc@${runner}`;
}

/**
 * Titles this process as a spare at `doorPrefix`; with `runner` (a spare that opens a door), then
 * sets its comm. Never throws. Without (a spare for one request, or a fork's copy serving one: no
 * door of its own), comm stays the title's: nobody looks for it.
 */
export function titleSpare(doorPrefix: string, runner?: number): void {
  process.title = spareTitle(doorPrefix); // resets comm to the title's first 15 bytes
  if (runner === undefined) return;
  try {
    writeFileSync('/proc/self/comm', spareComm(runner));
  } catch {
    // the shell then takes no door of ours for a live spare's: every request runs Node, as without spares
  }
}
