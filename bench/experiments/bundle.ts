/**
 * Builds the experimental shim variants: esbuild bundles of dist/shim/main.js (koffi stays external:
 * a native addon; optionally winston too) and executables that run them through cached-loader.ts,
 * with or without a V8 code cache. Everything goes into a temp dir; nothing touches the shim.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO } from '../../test/helpers/containerd';

/** An executable variant of the shim. */
export interface Variant {
  name: string;
  /** The executable (a `#!/usr/bin/env node` script: process.argv[1] is itself, so `start` spawns the daemon through it too). */
  exe: string;
  /** The training executable (writes the code cache at exit), for cached variants. */
  train?: string;
  bundleBytes: number;
}

const LOADER = resolve(__dirname, 'cached-loader.js');

function esbuild(out: string, externals: readonly string[]): number {
  execFileSync(
    join(REPO, 'node_modules', '.bin', 'esbuild'),
    [join(REPO, 'dist', 'shim', 'main.js'), '--bundle', '--platform=node', '--target=node20', '--format=cjs', '--log-level=warning', ...externals.map((e) => `--external:${e}`), `--outfile=${out}`],
    { stdio: 'inherit' },
  );
  return statSync(out).size;
}

function executable(path: string, options: object): string {
  writeFileSync(
    path,
    [
      '#!/usr/bin/env node',
      "'use strict';",
      'process.on("SIGUSR1", () => undefined);',
      `require(${JSON.stringify(LOADER)}).run(${JSON.stringify(options)});`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

/** Builds bundle variants into `dir`; `log` collects the loader's cache lines. */
export function buildVariants(dir: string, log: string): Variant[] {
  const all = join(dir, 'shim-bundle.js');
  const noWinston = join(dir, 'shim-bundle-xw.js');
  const allBytes = esbuild(all, ['koffi']);
  const xwBytes = esbuild(noWinston, ['koffi', 'winston']);
  const cache = join(dir, 'shim.cache');
  return [
    { name: 'bundle', exe: executable(join(dir, 'shim-bundle'), { bundle: all, repo: REPO, log }), bundleBytes: allBytes },
    { name: 'bundle, winston external', exe: executable(join(dir, 'shim-bundle-xw'), { bundle: noWinston, repo: REPO, log }), bundleBytes: xwBytes },
    {
      name: 'bundle, winston external + code cache',
      exe: executable(join(dir, 'shim-bundle-xw-cache'), { bundle: noWinston, cache, repo: REPO, log }),
      train: executable(join(dir, 'shim-bundle-xw-train'), { bundle: noWinston, cache, produce: true, repo: REPO, log }),
      bundleBytes: xwBytes,
    },
  ];
}
