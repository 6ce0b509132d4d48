/**
 * The cgroup parents our generated specs put tasks under (`/tsrunc/<namespace>/<id>`, spec.ts): runc
 * removes each task's own cgroup when the task is deleted, the parents stay. Once no task of the
 * namespace exists they are removed too (rmdir only: a non-empty cgroup is never touched), in every
 * v1 hierarchy and in the unified one.
 */
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Removes `/tsrunc/<namespace>` and then `/tsrunc` wherever they are empty. Never throws. */
export function removeEmptyCgroupParents(namespace: string, root = CGROUP_ROOT): void {
  let hierarchies: string[];
  try {
    hierarchies = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(root, d.name));
  } catch {
    return;
  }
  for (const base of [root, ...hierarchies]) {
    for (const dir of [join(base, 'tsrunc', namespace), join(base, 'tsrunc')]) {
      try {
        rmdirSync(dir);
      } catch {
        // missing, busy or not empty: leave it
      }
    }
  }
}
