/**
 * Resolving a path inside a root without leaving it (containerd's fs.RootPath, as containerd 2.x
 * resolves Mount.target): every component is looked at with lstat; a symlink is followed with its
 * target read relative to the root (an absolute link starts again at the root), and `..` never
 * climbs above the root. What comes out is a path under the root that a later mount(8) — which
 * follows symlinks — cannot be steered out of by a link planted in an earlier layer.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINKS = 255;

/** `unsafe` (relative or absolute) resolved inside `root`; throws ELOOP after too many links. */
export function resolveInRoot(root: string, unsafe: string): string {
  const pending = unsafe.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift() ?? '';
    if (component === '..') {
      resolved.pop(); // clamped at the root
      continue;
    }
    const candidate = join(root, ...resolved, component);
    // a name that does not exist (yet) is taken as a plain name
    if (!lstatSync(candidate, { throwIfNoEntry: false })?.isSymbolicLink()) {
      resolved.push(component);
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`too many levels of symbolic links resolving ${unsafe}`), { code: 'ELOOP' });
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
  }
  return join(root, ...resolved);
}
