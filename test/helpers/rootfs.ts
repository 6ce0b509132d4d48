/**
 * A busybox rootfs for real containers (RECIPES "A busybox rootfs"): /bin/busybox from
 * busybox-static with a symlink per applet, /etc/passwd and /etc/group for root, a 1777 /tmp.
 * Built once per process under the OS temp dir and shared (containers may write to it, so tests
 * that need a pristine tree build their own with `buildRootfs(dir)`), and removed at its exit.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUSYBOX = '/bin/busybox';
let shared: string | undefined;

/** Builds a busybox rootfs in `dir` (created if missing) and returns `dir`. */
export function buildRootfs(dir: string): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static`);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run', 'var']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const applet of applets) {
    const link = join(dir, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  chmodSync(join(dir, 'tmp'), 0o1777);
  return dir;
}

/**
 * A busybox rootfs shared by the tests of this process, removed when the process exits (every
 * test, bench and soak process made one and left it: ~190 in /tmp after a day of runs).
 */
export function sharedRootfs(): string {
  if (shared === undefined) {
    const parent = mkdtempSync(join(tmpdir(), 'tsrunc-rootfs-'));
    process.once('exit', () => rmSync(parent, { recursive: true, force: true }));
    shared = buildRootfs(join(parent, 'rootfs'));
  }
  return shared;
}
