/**
 * Build step (run by `.ci/tasks.js` bundle() after `tsc -b`): two esbuild bundles of the shim's
 * entry point, each with a V8 code cache (`<name>.js.cache`):
 *  - dist/shim/bundle/action.js: `start`, `delete`, `-v` — without the daemon's or the spare's code (protobuf
 *    generated code alone is ~450 KB, which `start` must not parse);
 *  - dist/shim/bundle/daemon.js: the daemon (`serve`) and the spare, which runs `start` and
 *    `delete` in-process for the shell entry point (manager/spare.ts), so it holds everything.
 * An action left out of a bundle stays a `require` of its tsc output, so a wrong pick by the
 * launcher costs time, never correctness.
 *
 * Why: the shim starts once per container (`start`, the daemon, `delete`), and Node spends most of
 * that start-up resolving, reading and compiling many small tsc output files. One file removes the
 * module resolution and reads; the code cache removes most of the compilation.
 * bin/containerd-shim-tsrunc-v2 loads the bundle with the cache when both exist and falls back to
 * dist/shim/main.js otherwise. The bundle keeps the lazy `require`s of main.ts lazy (esbuild wraps
 * each module in an initialiser run on first require), so `start` still evaluates only its code.
 *
 * koffi stays external: it loads a native addon from its own package directory. Which addon file
 * koffi's loader picks on this machine is found here, once, and defined in the bundles as
 * KOFFI_ADDON: the daemon opens it directly and skips that loader (native/koffi.ts).
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Module } from 'node:module';
import { join, relative } from 'node:path';
import { Script } from 'node:vm';
import { findKoffiAddon } from '../../native/koffi';

const DIST = join(__dirname, '..', '..');
const BUNDLES: Record<string, readonly string[]> = { action: ['serve', 'spare'], daemon: [] };

async function main(): Promise<void> {
  const dir = join(DIST, 'shim', 'bundle');
  mkdirSync(dir, { recursive: true });
  // the addon koffi's loader picks on this machine, relative to the bundles (native/koffi.ts)
  const found = findKoffiAddon();
  const addon = { path: relative(dir, found.path), version: found.version };
  for (const [name, leftOut] of Object.entries(BUNDLES)) {
    const out = join(dir, `${name}.js`);
    await build({
      entryPoints: [join(DIST, 'shim', 'main.js')],
      outfile: out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // winston: loaded only with -debug logging, from node_modules when needed
      external: ['koffi', 'winston'],
      // No whitespace and no comments: a third less to read and to scan for every function V8
      // compiles lazily, and all ASCII — V8 keeps the source of a script for as long as the daemon
      // runs, one byte per character when it is ASCII, two otherwise (a few non-ASCII characters in
      // comments made the daemon's 0.9 MB bundle a 1.9 MB string). Names are kept, so stack traces
      // still name the functions.
      minifyWhitespace: true,
      define: { KOFFI_ADDON: JSON.stringify(addon) },
      plugins: [leaveOut(leftOut)],
      logLevel: 'warning',
    });
    writeFileSync(`${out}.cache`, codeCache(out));
    forgetTrained(dir, name);
  }
}

/**
 * Removes the caches daemons of the last build trained (the launcher's `<bundle>[.<node
 * options>].trained`, and temporaries of a writer killed mid-write): all are stamped with the old
 * bundle. The launcher would replace those of the node options still in use on their first run,
 * and leave the others, one ~650 KB file per set of options ever used, for good.
 */
function forgetTrained(dir: string, name: string): void {
  for (const file of readdirSync(dir)) {
    if (file.startsWith(`${name}.js.`) && /\.trained(?:\.\d+\.tmp)?$/.test(file)) rmSync(join(dir, file), { force: true });
  }
}

/** Keeps `require('./manager/<action>')` of the left-out actions pointing at the tsc output. */
function leaveOut(actions: readonly string[]): Plugin {
  if (actions.length === 0) return { name: 'leave-out', setup: () => undefined };
  const filter = new RegExp(`^\\./manager/(${actions.join('|')})$`);
  return {
    name: 'leave-out',
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: `../${args.path.slice(2)}.js`, external: true }));
    },
  };
}

/**
 * A code cache of the bundle compiled exactly as the launcher compiles it (same wrapper, same
 * filename), so V8 accepts it. Functions compiled lazily at run time are not in it; V8 rejects a
 * cache made by another Node version or with other V8 flags, and the launcher then compiles normally.
 */
function codeCache(file: string): Buffer {
  const script = new Script((Module as unknown as { wrap(s: string): string }).wrap(readFileSync(file, 'utf8')), { filename: file });
  return script.createCachedData();
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
