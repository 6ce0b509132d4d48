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

/** Removes a bundle and everything in it (idempotent). */
export function removeBundle(bundle: string): void {
  rmSync(bundle, { recursive: true, force: true });
}

/** Reads `<dir>/config.json` of a user's bundle; InvalidArgument when missing or not JSON. */
export function readBundleSpec(dir: string): OciSpec {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new ErrdefsError('invalidArgument', `bundle ${dir} has no config.json`);
  try {
    const spec = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('not a JSON object');
    return spec as OciSpec;
  } catch (err) {
    throw new ErrdefsError('invalidArgument', `${file}: ${(err as Error).message}`);
  }
}
