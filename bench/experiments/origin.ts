/** Where a loaded file or profiled function comes from, for the start-up profiles. */

/** The origin of a resolved file path (or a `node:` built-in). */
export function originOf(file: string): string {
  if (file.startsWith('file://')) file = file.slice('file://'.length);
  if (!file.startsWith('/')) return 'node built-ins';
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '?');
  }
  if (file.includes('/ttrpc/dist/')) return 'ttrpc-ts';
  if (file.includes('/dist/proto/gen/')) return 'proto/gen (generated codecs)';
  for (const folder of ['shim', 'native', 'proto', 'supervisor', 'bench']) if (file.includes(`/dist/${folder}/`)) return `${folder} (ours)`;
  if (file.includes('/bin/')) return 'bin launcher';
  return 'other';
}

/** Whether an origin is a third-party package (whose own dependencies are charged to it). */
export function isPackage(origin: string): boolean {
  return !origin.includes('(') && origin !== 'ttrpc-ts' && origin !== 'bin launcher' && origin !== 'node built-ins' && origin !== 'other';
}
