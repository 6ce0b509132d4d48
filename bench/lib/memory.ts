/**
 * Memory of shim daemons from /proc/<pid>/smaps_rollup, and the daemons of one runtime found by
 * their argv: `-address <containerd address>` (processesWithArgs) and the runtime's binary — Go's
 * shim is argv[0] /usr/bin/containerd-shim-runc-v2, ours is `node [flags] …/bin/containerd-shim-tsrunc-v2`.
 * A `start` or `delete` process in flight (argv ending in the action) is not a daemon.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { processesWithArgs } from '../../test/helpers/containerd';
import { argvOf } from '../../test/helpers/proc';

/** The smaps_rollup fields we report, in KiB. */
export interface Smaps {
  rss: number;
  pss: number;
  /** Pss_Anon: the anonymous part of PSS. */
  pssAnon: number;
  /** Anonymous: anonymous pages mapped (for processes that share no anonymous pages, their private anonymous memory). */
  anonymous: number;
  privateDirty: number;
}

const ZERO: Smaps = { rss: 0, pss: 0, pssAnon: 0, anonymous: 0, privateDirty: 0 };

/** /proc/<pid>/smaps_rollup, or undefined when the process is gone. */
export function smapsRollup(pid: number): Smaps | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss'), pssAnon: field('Pss_Anon'), anonymous: field('Anonymous'), privateDirty: field('Private_Dirty') };
}

/** Sum of smaps_rollup over `pids` (processes gone meanwhile count 0). */
export function sumSmaps(pids: readonly number[]): Smaps {
  const total = { ...ZERO };
  for (const pid of pids) {
    const s = smapsRollup(pid);
    if (!s) continue;
    for (const k of Object.keys(total) as (keyof Smaps)[]) total[k] += s[k];
  }
  return total;
}


/** The shim binary's name for a runtime type. */
export function shimBinary(runtime: string): string {
  // io.containerd.runc.v2 → containerd-shim-runc-v2 (containerd's own rule)
  const parts = runtime.split('.');
  return `containerd-shim-${parts[parts.length - 2] ?? ''}-${parts[parts.length - 1] ?? ''}`;
}

/** Daemon pids of `runtime` started by the containerd at `address`. */
export function shimDaemons(address: string, runtime: string): number[] {
  const binary = shimBinary(runtime);
  return processesWithArgs(['-address', address]).filter((pid) => {
    const argv = argvOf(pid);
    const last = argv[argv.length - 1];
    if (last === 'start' || last === 'delete') return false;
    const script = argv.findIndex((a) => a.startsWith('-namespace'));
    return argv.slice(0, script < 0 ? 2 : script).some((a) => basename(a) === binary);
  });
}
