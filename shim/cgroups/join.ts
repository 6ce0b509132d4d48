/**
 * Moving a process into an existing cgroup (runc option ShimCgroup, PROTOCOL §2.5 step 6):
 * cgroup v2 — `<path>/cgroup.procs` under /sys/fs/cgroup; v1 (legacy or hybrid, as on these
 * machines) — the same path in every v1 controller hierarchy.
 */
import { readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when /sys/fs/cgroup itself is cgroup2 (unified mode). */
export function isUnified(root = ROOT): boolean {
  try {
    return statfsSync(root).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** Writes `pid` into `cgroup` (an absolute cgroup path such as /tsrunc/shims). */
export function joinCgroup(pid: number, cgroup: string, root = ROOT): void {
  if (!cgroup.startsWith('/')) throw new Error(`cgroup path must be absolute: ${cgroup}`);
  if (isUnified(root)) {
    writeFileSync(join(root, cgroup, 'cgroup.procs'), String(pid));
    return;
  }
  let joined = 0;
  for (const hierarchy of readdirSync(root)) {
    if (hierarchy === 'unified') continue;
    const procs = join(root, hierarchy, cgroup, 'cgroup.procs');
    try {
      writeFileSync(procs, String(pid));
      joined++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (joined === 0) throw new Error(`cgroup ${cgroup} does not exist in any hierarchy under ${root}`);
}
