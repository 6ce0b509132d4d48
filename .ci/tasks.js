#!/usr/bin/env node
'use strict';
// The project's task runner: what `npm start`, `npm test`, `npm run build`, … run. It must work on a
// fresh clone with nothing installed yet, so it uses Node's built-ins only. It bootstraps:
//   - Debian packages the task needs (apt-get, as root) when they are missing,
//   - node_modules (`npm ci`) when missing or older than package-lock.json,
//   - dist/ (`tsc -b`, incremental, then the generated protobuf modules copied beside their .d.ts).
// An unhandled SIGUSR1 would open Node's inspector on 127.0.0.1:9229: this is an entry point too.
process.on('SIGUSR1', () => {});

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Debian packages per purpose. `run` is what the shim and supervisor need at run time. */
const PACKAGES = {
  run: ['runc', 'containerd', 'busybox-static', 'util-linux', 'mount', 'procps'], // mount(8): the shim mounts a task's rootfs with it
  build: ['g++', 'make', 'python3'], // node-pty's install script builds with node-gyp
  test: [
    'crun',
    'criu',
    'binutils', // objdump: the glibc versions of the symbols native/ binds (integration/libc-symbols.test.ts)
    'protobuf-compiler',
    'libprotobuf-dev',
    // upstream .proto files for the drift test (PROTOCOL §15)
    'golang-github-containerd-containerd-dev',
    'golang-github-containerd-ttrpc-dev',
    'golang-github-containerd-cgroups-dev',
    'golang-github-gogo-protobuf-dev',
    'golang-github-gogo-googleapis-dev',
  ],
};

function log(msg) {
  process.stderr.write(`[tasks] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status === null ? 128 + (require('node:os').constants.signals[r.signal] || 0) : r.status;
}

function mustRun(cmd, args, opts) {
  const code = run(cmd, args, opts);
  if (code !== 0) {
    log(`${cmd} ${args.join(' ')} failed with exit status ${code}`);
    process.exit(code || 1);
  }
}

function bin(name) {
  return path.join(ROOT, 'node_modules', '.bin', name);
}

function missingPackages(pkgs) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...pkgs], { encoding: 'utf8' });
  const installed = new Set(
    (r.stdout || '')
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

function ensurePackages(...groups) {
  if (process.platform !== 'linux') {
    log('not Linux: skipping Debian packages (only unit tests can run here)');
    return;
  }
  const want = [...new Set(groups.flatMap((g) => PACKAGES[g]))];
  const missing = missingPackages(want);
  if (missing.length === 0) return;
  if (process.getuid() !== 0) {
    log(`missing Debian packages: ${missing.join(' ')} — run as root, or: apt-get install ${missing.join(' ')}`);
    process.exit(1);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '-q', '--no-install-recommends', ...missing];
  if (run('apt-get', args, { env }) !== 0) {
    mustRun('apt-get', ['update', '-q'], { env });
    mustRun('apt-get', args, { env });
  }
}

/** True when `path` exists and is at least as new as `than`. */
function newerOrSame(path, than) {
  try {
    return fs.statSync(path).mtimeMs >= fs.statSync(than).mtimeMs;
  } catch {
    return false;
  }
}

function ensureNodeModules() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const lock = path.join(ROOT, 'package-lock.json');
  if (newerOrSame(marker, lock)) return;
  log('installing npm packages (npm ci)');
  mustRun('npm', ['ci', '--no-audit', '--no-fund']);
}

function copyGenerated() {
  // pbjs emits JavaScript + pbts declarations; tsc compiles only our .ts, so the generated .js
  // modules are copied beside their compiled importers.
  const src = path.join(ROOT, 'proto', 'gen');
  if (!fs.existsSync(src)) return;
  const dst = path.join(ROOT, 'dist', 'proto', 'gen');
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (!f.endsWith('.js') && !f.endsWith('.d.ts')) continue;
    const from = path.join(src, f);
    const to = path.join(dst, f);
    if (!newerOrSame(to, from)) fs.copyFileSync(from, to);
  }
}

function build() {
  ensureNodeModules();
  mustRun(bin('tsc'), ['-b']);
  pruneStale(path.join(ROOT, 'dist'), ROOT, ['shim/bundle', 'proto/gen']);
  pruneStale(path.join(ROOT, 'ttrpc', 'dist'), path.join(ROOT, 'ttrpc'), []);
  copyGenerated();
  bundle();
}

/**
 * Removes compiled files whose source is gone: `tsc -b` never deletes output, so a test file that
 * was removed or renamed (a revert, a branch switch) would still run from dist/. `keep`: folders of
 * dist/ made by other steps (the bundles, the copied generated modules).
 */
function pruneStale(dist, sources, keep) {
  if (!fs.existsSync(dist)) return;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(dist, full);
      if (keep.some((k) => rel === k || rel.startsWith(`${k}${path.sep}`))) continue;
      if (entry.isDirectory()) {
        walk(full);
        continue;
      }
      const base = rel.replace(/\.(d\.ts\.map|d\.ts|js\.map|js)$/, '');
      if (base === rel) continue; // not compiler output (.tsbuildinfo)
      if (fs.existsSync(path.join(sources, `${base}.ts`)) || fs.existsSync(path.join(sources, `${base}.js`))) continue;
      fs.rmSync(full);
      log(`removed stale ${path.relative(ROOT, full)} (its source is gone)`);
    }
  };
  walk(dist);
}

/** Optional esbuild bundles of the shim's entry points (shim/build/bundle.ts; docs/benchmarks.md). */
function bundle() {
  const script = path.join(ROOT, 'dist', 'shim', 'build', 'bundle.js');
  if (fs.existsSync(script)) mustRun(process.execPath, [script]);
}

/** Runs named steps in order, reports each with its duration, and fails if any failed. */
function steps(list) {
  const results = [];
  for (const [name, cmd, args, opts] of list) {
    const t0 = Date.now();
    log(`── ${name}`);
    const code = run(cmd, args, opts);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    results.push({ name, code, secs });
    log(`── ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${secs}s`);
  }
  log('summary:');
  for (const r of results) log(`  ${r.code === 0 ? 'ok    ' : 'FAILED'} ${r.name} (${r.secs}s)`);
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length) process.exit(1);
}

/** The source folders dependency-cruiser checks (those that exist: git keeps no empty folder). */
function layersArgs() {
  const dirs = ['shim', 'supervisor', 'native', 'proto', 'ttrpc', 'test', 'bench'].filter((d) => fs.existsSync(path.join(ROOT, d)));
  return ['--config', '.dependency-cruiser.js', ...dirs];
}

function mocha(globs, extra = []) {
  return [bin('mocha'), ['--config', '.mocharc.json', ...extra, ...globs]];
}

const TASKS = {
  build() {
    build();
  },
  layers() {
    ensureNodeModules();
    mustRun(bin('depcruise'), layersArgs());
  },
  check() {
    build();
    steps([
      ['lint', bin('eslint'), ['--max-warnings', '0', '.']],
      ['layers', bin('depcruise'), layersArgs()],
      ['proto:check', process.execPath, ['dist/proto/codegen/generate.js', '--check']],
    ]);
  },
  test() {
    ensurePackages('run', 'build', 'test');
    build();
    steps([
      ['lint', bin('eslint'), ['--max-warnings', '0', '.']],
      ['layers', bin('depcruise'), layersArgs()],
      ['proto:check', process.execPath, ['dist/proto/codegen/generate.js', '--check']],
      ['unit', ...mocha(['dist/test/unit/**/*.test.js', 'ttrpc/dist/test/**/*.test.js'])],
      ['integration', ...mocha(['dist/test/integration/**/*.test.js'])],
      ['e2e', ...mocha(['dist/test/e2e/**/*.test.js'])],
    ]);
  },
  soak() {
    ensurePackages('run', 'build', 'test');
    build();
    steps([['soak', ...mocha(['dist/test/soak/**/*.test.js'], ['--timeout', '0'])]]);
  },
  'proto:gen'() {
    // A .proto change may break code that uses the generated types: compile what compiles (tsc emits
    // despite type errors), regenerate, then build for real.
    ensureNodeModules();
    run(bin('tsc'), ['-b']);
    mustRun(process.execPath, ['dist/proto/codegen/generate.js']);
    build();
  },
  'proto:check'() {
    build();
    mustRun(process.execPath, ['dist/proto/codegen/generate.js', '--check']);
  },
  start() {
    ensurePackages('run', 'build');
    build();
    mustRun(process.execPath, ['dist/supervisor/demo.js', ...process.argv.slice(3)]);
  },
  'demo:containerd'() {
    ensurePackages('run', 'build');
    build();
    mustRun(process.execPath, ['dist/test/fixtures/demo-containerd.js']);
  },
  bench() {
    ensurePackages('run', 'build');
    build();
    mustRun(process.execPath, ['--expose-gc', 'dist/bench/shim-vs-go.js', ...process.argv.slice(3)]);
  },
  'bench:ttrpc'() {
    ensurePackages('run', 'build');
    build();
    mustRun(process.execPath, ['dist/bench/ttrpc.js', ...process.argv.slice(3)]);
  },
};

const name = process.argv[2];
const task = name && TASKS[name];
if (!task) {
  log(`usage: node .ci/tasks.js <${Object.keys(TASKS).join('|')}>`);
  process.exit(2);
}
task();
