/**
 * Is a path a mount point, and unmounting it until it is not (PROTOCOL §9.5): repeated umount2
 * until EINVAL (not a mount point any more), retrying EBUSY up to 50 times every 50 ms.
 */
import { readFileSync } from 'node:fs';
import { type Native } from '../../native';

/** Mount points listed in /proc/self/mountinfo (octal escapes decoded). */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))));
}

/** True when `path` is a mount point now. */
export function isMountPoint(path: string): boolean {
  return mountPoints().includes(path.replace(/\/+$/, ''));
}

/** Unmounts `target` until it is no longer a mount point. */
export async function unmountAll(native: Pick<Native, 'umount2'>, target: string): Promise<void> {
  let busy = 0;
  for (;;) {
    try {
      native.umount2(target, 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return; // not (or no longer) a mount point
      if (code === 'EBUSY' && ++busy < 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      throw err;
    }
  }
}
