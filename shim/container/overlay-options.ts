/**
 * Overlay options that would not fit in one page of mount(2) data: the kernel copies one page of
 * it, so an image of some fifty layers or more (each containerd snapshot path is ~75 bytes) fails
 * to mount. As containerd's own mount code does, the lower directories are then given relative to
 * their common parent, and the mount runs with that parent as its working directory.
 */
/** The kernel copies one page of mount data; 4 KiB is the smallest page Linux has. */
const PAGE_SIZE = 4096;
/** Room left for what mount(8) adds to the options it passes on (containerd keeps 512 too). */
const MARGIN = 512;

/** An overlay mount, made to fit: its options, and the directory to run the mount in. */
export interface CompactedMount {
  options: string[];
  cwd: string;
}

/**
 * The options of a mount of `type`, with its lowerdir relative to the lower directories' common parent, when its options are
 * too long for one page and that helps; undefined when it is not an overlay, fits already, or
 * has no common parent but `/`.
 */
export function compactLowerdir(type: string, options: readonly string[]): CompactedMount | undefined {
  if (type !== 'overlay') return undefined;
  if (options.reduce((n, o) => n + o.length + 1, 0) < PAGE_SIZE - MARGIN) return undefined;
  const index = options.findIndex((o) => o.startsWith('lowerdir='));
  if (index === -1) return undefined;
  const dirs = (options[index] ?? '').slice('lowerdir='.length).split(':');
  if (dirs.length < 2) return undefined;
  // the common prefix as text, then back to its directory: snapshots 12/fs and 13/fs share
  // ".../snapshots/1", whose directory is ".../snapshots"
  const prefix = dirs.reduce(commonPrefix);
  const parent = prefix.slice(0, prefix.lastIndexOf('/'));
  if (!parent.startsWith('/')) return undefined; // relative lower dirs, or none but the root in common
  const relative = dirs.map((d) => d.slice(parent.length + 1));
  if (relative.some((d) => d === '')) return undefined;
  const compacted = options.filter((_, i) => i !== index);
  compacted.push(`lowerdir=${relative.join(':')}`);
  return { options: compacted, cwd: parent };
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}
