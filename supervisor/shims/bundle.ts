/**
 * Task bundles as containerd lays them out (PROTOCOL §2.2): `<run>/tasks/<namespace>/<id>/`, mode
 * 0700 under 0711 parents, holding `config.json`, an empty `rootfs/` (0711) and the `log` FIFO
 * (log-fifo.ts). The spec's root.path is absolute (the user's root filesystem), as with
 * `ctr run --rootfs`, so nothing is mounted onto `rootfs/`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';
import { writeFileAtomic } from '../util/atomic-file';
import type { OciSpec } from './spec';

/** The bundle directory of a task. */
export function bundleDir(bundlesRoot: string, namespace: string, id: string): string {
  return join(bundlesRoot, namespace, id);
}

/** The `log` FIFO of a bundle. */
export function logFifoPath(bundle: string): string {
  return join(bundle, 'log');
}

/** Creates the bundle directory with config.json and rootfs/. */
export function createBundle(bundle: string, spec: OciSpec): void {
  mkdirSync(dirname(bundle), { recursive: true, mode: 0o711 });
  mkdirSync(bundle, { mode: 0o700 });
  mkdirSync(join(bundle, 'rootfs'), { mode: 0o711 });
  writeFileAtomic(join(bundle, 'config.json'), JSON.stringify(spec, null, 2), 0o644);
}

/**
 * The copy of a task's config.json kept beside its logs (`<lib>/tasks/<namespace>/<id>/`), which
 * outlive `<run>`: what a restart rebuilds the bundle from after a reboot emptied `<run>`.
 */
export function keptSpecPath(logDir: string): string {
  return join(logDir, 'config.json');
}

/** Keeps a copy of the task's spec beside its logs (keptSpecPath). */
export function keepSpec(logDir: string, spec: OciSpec): void {
  writeFileAtomic(keptSpecPath(logDir), JSON.stringify(spec, null, 2), 0o600);
}

/**
 * The bundle for a restart: as it is, or — when `<run>` lost it (a reboot) — made again from the
 * copy kept beside the logs. FailedPrecondition when neither is there.
 */
export function ensureBundle(bundle: string, logDir: string): void {
  if (existsSync(join(bundle, 'config.json'))) return;
  const kept = keptSpecPath(logDir);
  if (!existsSync(kept)) throw new ErrdefsError('failedPrecondition', `bundle ${bundle} is gone and no copy of its config.json was kept (${kept})`);
  const spec = readSpecFile(kept);
  removeBundle(bundle); // whatever is left of it
  createBundle(bundle, spec);
}

/**
 * Applies `change` to the spec in the bundle and to its kept copy, each if there: a later restart
 * (by the restart policy) creates the task from them. A missing one is left missing.
 */
export function changeSpec(bundle: string, logDir: string, change: (spec: OciSpec) => OciSpec): void {
  for (const [file, mode] of [
    [join(bundle, 'config.json'), 0o644],
    [keptSpecPath(logDir), 0o600],
  ] as const) {
    if (existsSync(file)) writeFileAtomic(file, JSON.stringify(change(readSpecFile(file)), null, 2), mode);
  }
}

/** Removes a bundle and everything in it (idempotent). */
export function removeBundle(bundle: string): void {
  rmSync(bundle, { recursive: true, force: true });
}

/** Reads `<dir>/config.json` of a user's bundle; InvalidArgument when missing or not JSON. */
export function readBundleSpec(dir: string): OciSpec {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new ErrdefsError('invalidArgument', `bundle ${dir} has no config.json`);
  return readSpecFile(file);
}

/** Reads a spec file; InvalidArgument when it is not a JSON object. */
function readSpecFile(file: string): OciSpec {
  try {
    const spec = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('not a JSON object');
    return spec as OciSpec;
  } catch (err) {
    throw new ErrdefsError('invalidArgument', `${file}: ${(err as Error).message}`);
  }
}
