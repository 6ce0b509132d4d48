/**
 * Lists the children of this process: every thread's /proc/self/task/<tid>/children (an orphan is
 * re-parented to one thread of the subreaper, not necessarily the main one), or, on a kernel without
 * CONFIG_PROC_CHILDREN, the processes whose stat names us as parent.
 */
import { readFileSync, readdirSync } from 'node:fs';

let hasChildrenFiles: boolean | undefined;

/** The pids of our direct children, zombies included. */
export function listChildren(): number[] {
  hasChildrenFiles ??= probe();
  return hasChildrenFiles ? fromTaskChildren() : fromProcStat();
}

function probe(): boolean {
  try {
    readFileSync(`/proc/self/task/${process.pid}/children`);
    return true;
  } catch {
    return false;
  }
}

function fromTaskChildren(): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, 'latin1');
    } catch {
      continue; // the thread ended while we looked
    }
    for (const word of text.split(' ')) if (word) pids.push(Number(word));
  }
  return pids;
}

function fromProcStat(): number[] {
  const pids: number[] = [];
  const self = process.pid;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === self) pids.push(Number(name));
  }
  return pids;
}
