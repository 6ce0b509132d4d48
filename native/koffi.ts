/**
 * koffi itself, loaded once. koffi's package entry finds its addon by reading the ELF header of the
 * node binary (glibc or musl), resolving its platform package through package.json `exports` and
 * wrapping deprecated names: ~4.3 ms of CPU in every Node process that loads it, of ~5.4 for the
 * whole `require('koffi')` (the addon's dlopen is ~1 ms). The shim's daemon and spare start once
 * per container, so the bundle build (shim/build/bundle.ts) does that lookup once: it loads koffi,
 * notes which addon file koffi's own loader picked on this machine and its version, and defines
 * KOFFI_ADDON in the bundle. Here that addon is opened directly; anything unexpected (the file
 * moved, another version: an install changed after the build) falls back to `require('koffi')`.
 * The tsc output has no KOFFI_ADDON and always takes koffi's loader.
 */
// koffi is an ES module package whose CommonJS entry (index.cjs) has the same API; its one .d.ts is
// typed as ESM, so the types come through an import-mode type import and the value through require.
import type * as KoffiModule from 'koffi' with { 'resolution-mode': 'import' };
import { isAbsolute, join } from 'node:path';

export type Koffi = typeof KoffiModule;

/** What the bundle build found: the addon koffi loads, relative to the bundle's directory. */
export interface KoffiAddon {
  path: string;
  version: string;
}

// Defined by esbuild in the bundles only (`define`); a free identifier nowhere else.
declare const KOFFI_ADDON: KoffiAddon | undefined;

/** The addon the build found, when this code runs from the bundle. */
function builtAddon(): KoffiAddon | undefined {
  return typeof KOFFI_ADDON === 'undefined' ? undefined : KOFFI_ADDON;
}

/**
 * koffi's API from `addon` (a path relative to `dir` or absolute) when it opens and has the
 * version the build saw; otherwise from koffi's own entry point.
 */
export function loadKoffi(addon: KoffiAddon | undefined = builtAddon(), dir: string = __dirname): Koffi {
  if (addon) {
    const direct = openAddon(isAbsolute(addon.path) ? addon.path : join(dir, addon.path));
    if (direct?.version === addon.version) return direct;
  }
  return viaPackage();
}

/** koffi through its package entry (and its loader). */
function viaPackage(): Koffi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('koffi') as Koffi;
}

/**
 * The addon file koffi's own loader opens in this process (it chooses by the node binary's libc),
 * and its version: what the bundle build defines as KOFFI_ADDON.
 */
export function findKoffiAddon(): KoffiAddon {
  const koffi = viaPackage();
  const addons = Object.keys(require.cache).filter((file) => file.endsWith('.node') && file.includes('koffi'));
  const [file] = addons;
  if (file === undefined || addons.length !== 1) throw new Error(`cannot tell which koffi addon was loaded: ${addons.length === 0 ? 'none' : addons.join(', ')}`);
  return { path: file, version: koffi.version };
}

/** The addon's exports, or undefined when it cannot be opened. */
function openAddon(file: string): Koffi | undefined {
  const module = { exports: {} as Koffi };
  try {
    process.dlopen(module, file);
  } catch {
    return undefined;
  }
  return module.exports;
}
