/**
 * Runs an esbuild bundle of the shim through `vm.Script` with a V8 code cache (Node 20 has no
 * module.enableCompileCache): the cache for each kind of process (`start`, `delete`, the daemon) is
 * its own file `<cache>.<kind>`, keyed on v8.cachedDataVersionTag(); with `produce` the process writes
 * its cache at exit (after it ran, so lazily compiled functions are in it). Externals (koffi, winston)
 * resolve from the repository's dist/shim. A measurement tool for bundle-cache.ts, not wired into
 * the shim.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

export interface LoaderOptions {
  bundle: string;
  /** Cache path prefix; no cache when absent. */
  cache?: string;
  /** Write this process's cache at exit. */
  produce?: boolean;
  /** Where dist/ lives, for the externals. */
  repo: string;
  /** Appends one line per process: kind, cache accepted/rejected/absent, ms to compile and run the bundle's top level. */
  log?: string;
}

type Wrapped = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** The kind of shim process from its argv: the action is the last argument. */
function kind(): string {
  const last = process.argv[process.argv.length - 1] ?? '';
  return last === 'start' || last === 'delete' ? last : 'daemon';
}

/** Loads and runs the bundle. */
export function run(o: LoaderOptions): void {
  const t0 = performance.now();
  const source = readFileSync(o.bundle, 'utf8');
  const cacheFile = o.cache ? `${o.cache}.${kind()}.${v8.cachedDataVersionTag()}` : undefined;
  const cachedData = cacheFile && !o.produce && existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: o.bundle, ...(cachedData ? { cachedData } : {}) });
  const state = cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'none';
  const fn = script.runInThisContext() as Wrapped;
  const module = { exports: {} };
  fn.call(module.exports, module.exports, createRequire(join(o.repo, 'dist', 'shim', 'main.js')), module, o.bundle, dirname(o.bundle));
  if (o.log) appendFileSync(o.log, `${kind()} ${process.pid} cache=${state} top-level=${(performance.now() - t0).toFixed(1)}ms\n`);
  if (o.produce && cacheFile) process.on('exit', () => writeFileSync(cacheFile, script.createCachedData()));
}
