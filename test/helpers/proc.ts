/** Looking at processes from /proc: liveness, parents, zombies (counted by parent: PID 1 of these VMs reaps late). */
import { readFileSync, readdirSync } from 'node:fs';

/** True while `pid` exists (a zombie counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined when it is gone. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie (it can still act: a zombie only waits for its reaper). */
export function running(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** [pid, state, ppid] of every process. */
export function processTable(): [number, string, number][] {
  const rows: [number, string, number][] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f !== undefined) rows.push([Number(name), f[0] ?? '', Number(f[1])]);
  }
  return rows;
}

/** Children of `pid`. */
export function childrenOf(pid: number): number[] {
  return processTable()
    .filter(([, , ppid]) => ppid === pid)
    .map(([p]) => p);
}

/** Zombie children of `pid`. */
export function zombiesOf(pid: number): number[] {
  return processTable()
    .filter(([, state, ppid]) => ppid === pid && state === 'Z')
    .map(([p]) => p);
}

/** True when no process has pid `pid` any more. */
export function gone(pid: number): boolean {
  return !processTable().some(([p]) => p === pid);
}

/**
 * The argv of a process (empty when it is gone or a zombie). A shim that was a spare daemon shows
 * its task's command line as a process title — one string in /proc/PID/cmdline — split on spaces here.
 */
export function argvOf(pid: number): string[] {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
  const [only] = argv;
  return argv.length === 1 && only !== undefined && only.includes(' ') ? only.split(' ').filter((a) => a !== '') : argv;
}

/** One variable of a process's environment (undefined when unset or the process is gone). */
export function envOf(pid: number, name: string): string | undefined {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith(`${name}=`));
    return entry?.slice(name.length + 1);
  } catch {
    return undefined;
  }
}
