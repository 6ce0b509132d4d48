/**
 * What the shim reads from a bundle's config.json (the OCI spec): annotations and whether the
 * container has a pid namespace of its own. Without one (no `pid` namespace entry, or one joined by
 * path — the host's or another container's), the container's processes do not die with its init,
 * so the shim kills them all before it reports the init's exit (PROTOCOL §8.3).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface SpecSubset {
  annotations?: Record<string, string>;
  linux?: { namespaces?: { type?: string; path?: string }[] };
}

/** The parts of config.json the shim uses, or undefined when it cannot be read. */
export function readSpec(bundle: string): SpecSubset | undefined {
  try {
    return JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as SpecSubset;
  } catch {
    return undefined;
  }
}

/** True when the init's exit does not end the container's other processes. */
export function shouldKillAllOnExit(spec: SpecSubset | undefined): boolean {
  if (!spec) return true; // cannot tell: be safe, as Go is
  const pidNs = spec.linux?.namespaces?.find((ns) => ns.type === 'pid');
  return !pidNs || Boolean(pidNs.path);
}
