/**
 * The rootfs mounts of CreateTaskRequest (PROTOCOL §9.5): mounted in order onto <bundle>/rootfs
 * with mount(8) (which handles loop devices, read-only bind remounts and helpers as containerd's
 * own mount code does for the usual snapshotter outputs) and rolled back in reverse order if any
 * later step fails. Every spec is checked before anything is mounted: a bad one changes nothing.
 * An overlay whose options pass a page (an image of ~50 layers or more) is mounted with its lower
 * directories relative to their parent (overlay-options.ts).
 */
import { mkdirSync, statSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { type Native } from '../../native';
import { type ProcessMonitor } from '../reaper';
import { ShimError } from '../util/errors';
import { errorMessage } from '../util/log';
import { unmountAll } from './mounts';
import { compactLowerdir } from './overlay-options';
import { resolveInRoot } from './scoped-path';

/** containerd.types.Mount. */
export interface MountSpec {
  type: string;
  source: string;
  target: string;
  options: string[];
}

const FS_TYPE = /^[a-z0-9][a-z0-9._+-]*$/i;

/** Throws InvalidArgument for a mount that must not be attempted. */
export function validateMount(m: MountSpec, index: number): void {
  const bad = (why: string): never => {
    throw new ShimError('invalidArgument', `rootfs mount ${index} (${m.type} ${m.source}): ${why}`);
  };
  if (!FS_TYPE.test(m.type)) bad(`invalid type "${m.type}"`);
  if (m.source === '' || m.source.includes('\0')) bad('invalid source');
  const target = normalize(m.target);
  if (m.target.includes('\0') || isAbsolute(m.target) || target === '..' || target.startsWith('../')) bad(`target "${m.target}" must be relative and inside the rootfs`);
  for (const o of m.options) if (o.includes('\0') || o.includes('\n')) bad(`invalid option "${o}"`);
}

function scopedTarget(rootfs: string, m: MountSpec, index: number): string {
  let target: string;
  try {
    target = resolveInRoot(rootfs, m.target);
  } catch (err) {
    throw new ShimError('invalidArgument', `rootfs mount ${index} (${m.type} ${m.source}): target "${m.target}": ${(err as Error).message}`);
  }
  if (!statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ShimError('invalidArgument', `rootfs mount ${index} (${m.type} ${m.source}): target "${m.target}" is not a directory inside the rootfs`);
  }
  return target;
}

/** Reports what a rollback could not unmount. */
export type RollbackWarn = (message: string, fields: Record<string, string | number>) => void;

/** Mounts `mounts` onto `rootfs`; returns the mount points, innermost last. Rolls back on failure. */
export async function mountRootfs(mounts: readonly MountSpec[], rootfs: string, monitor: ProcessMonitor, native: Pick<Native, 'umount2'>, warn?: RollbackWarn): Promise<string[]> {
  mounts.forEach(validateMount);
  mkdirSync(rootfs, { recursive: true, mode: 0o711 });
  const done: string[] = [];
  try {
    for (const [i, m] of mounts.entries()) {
      // resolved after the earlier mounts, inside the rootfs: a symlink in a lower layer cannot
      // point the mount at the host (mount(8) follows links)
      const target = m.target ? scopedTarget(rootfs, m, i) : rootfs;
      const compacted = compactLowerdir(m.type, m.options); // an overlay of many layers: relative lower dirs
      const options = compacted?.options ?? m.options;
      const args = ['-t', m.type];
      if (options.length > 0) args.push('-o', options.join(','));
      args.push(m.source, target);
      const { child, exit } = monitor.spawn('mount', args, { stdio: ['ignore', 'ignore', 'pipe'], ...(compacted ? { cwd: compacted.cwd } : {}) });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const { status } = await exit;
      if (status !== 0) throw new ShimError('unknown', `failed to mount rootfs component ${i} (${m.type} ${m.source}): ${stderr.trim() || `exit status ${status}`}`);
      done.push(target);
    }
  } catch (err) {
    await rollBackRootfs(done, native, warn);
    throw err;
  }
  return done;
}

/**
 * Undoes the mounts of a Create that failed, innermost first, and never throws: the client must
 * see why the Create failed, not that a mount point was busy after it, and one busy mount point
 * must not keep the others mounted. What stays mounted is reported (containerd's bundle removal
 * tries the rootfs again).
 */
export async function rollBackRootfs(points: readonly string[], native: Pick<Native, 'umount2'>, warn?: RollbackWarn): Promise<void> {
  for (const point of [...points].reverse()) {
    try {
      await unmountAll(native, point);
    } catch (err) {
      warn?.('could not unmount the rootfs of a failed create', { mount: point, error: errorMessage(err) });
    }
  }
}

/** Unmounts what mountRootfs mounted, innermost first. */
export async function unmountRootfs(points: readonly string[], native: Pick<Native, 'umount2'>): Promise<void> {
  for (const point of [...points].reverse()) await unmountAll(native, point);
}
