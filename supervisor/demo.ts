/**
 * The `npm start` demo: the supervisor end to end on a private root, every step printed as a person
 * would type it, with its output — start `tsrunc daemon`, build a busybox root filesystem, run a
 * container, show `ps`, `logs` and an `exec`, stop and remove it, stop the daemon. It leaves nothing
 * running and removes its root (`--keep` keeps the root for a look around).
 *
 *   node dist/supervisor/demo.js [--keep] [--runtime io.containerd.runc.v2]
 */
// An unhandled SIGUSR1 opens Node's inspector on 127.0.0.1:9229 — a root debugger. First statement.
process.on('SIGUSR1', () => undefined);

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const TSRUNC = resolve(__dirname, '..', '..', 'bin', 'tsrunc');
const BUSYBOX = '/bin/busybox';

/** Prints a step's title. */
function say(text: string): void {
  process.stdout.write(`\n\x1b[1m# ${text}\x1b[0m\n`);
}

/** Shows a command line the way a person types it. */
function shown(args: readonly string[]): string {
  return args.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs `tsrunc ARGS`, printing the command and its output; throws when it fails (unless `allowFail`). */
function tsrunc(root: string, args: readonly string[], allowFail = false): string {
  process.stdout.write(`$ ${shown(['tsrunc', ...args])}\n`);
  const r = spawnSync(process.execPath, [TSRUNC, ...args], { env: { ...process.env, TSRUNC_ROOT: root }, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.status !== 0 && !allowFail) throw new Error(`tsrunc ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return r.stdout;
}

/** A busybox root filesystem (RECIPES "A busybox rootfs"). */
function buildRootfs(dir: string): void {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static`);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n');
  chmodSync(join(dir, 'tmp'), 0o1777);
}

/** Starts the daemon in the background (its log in ROOT/daemon.log) and waits until it answers. */
async function startDaemon(root: string): Promise<ChildProcess> {
  process.stdout.write(`$ tsrunc daemon > ${join(root, 'daemon.log')} 2>&1 &\n`);
  const log = openSync(join(root, 'daemon.log'), 'a');
  const daemon = spawn(process.execPath, [TSRUNC, 'daemon'], { env: { ...process.env, TSRUNC_ROOT: root }, stdio: ['ignore', log, log] });
  closeSync(log);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`the daemon exited (${daemon.exitCode}):\n${readFileSync(join(root, 'daemon.log'), 'utf8')}`);
    const r = spawnSync(process.execPath, [TSRUNC, 'version'], { env: { ...process.env, TSRUNC_ROOT: root }, encoding: 'utf8' });
    if (r.status === 0) {
      process.stdout.write(`[1] ${daemon.pid ?? '?'}\n`);
      return daemon;
    }
    if (Date.now() > deadline) throw new Error(`the daemon did not answer within 15 s: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Stops the daemon (SIGTERM) and waits for it. */
async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return;
  process.stdout.write(`$ kill %1    # SIGTERM: the daemon stops; containers would keep running\n`);
  const exited = new Promise((res) => daemon.once('exit', res));
  daemon.kill('SIGTERM');
  await exited;
}

/**
 * Processes whose command line or environment mentions `root` (shims, log drivers, the daemon,
 * and a spare shim, which knows the daemon only by its TTRPC_ADDRESS).
 */
function leftovers(root: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (argv.some((a) => a.includes(root)) || env.includes(root)) found.push(`${pid} ${argv.join(' ').trim()}`);
    } catch {
      // gone
    }
  }
  return found;
}

async function demo(keep: boolean, runtime: readonly string[]): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsrunc-demo-'));
  let daemon: ChildProcess | undefined;
  try {
    say('A private supervisor root: state in $TSRUNC_ROOT/lib, sockets and bundles in $TSRUNC_ROOT/run');
    process.stdout.write(`$ export TSRUNC_ROOT=${root}\n`);
    daemon = await startDaemon(root);
    tsrunc(root, ['version']);

    say('A busybox root filesystem');
    const rootfs = join(root, 'rootfs');
    buildRootfs(rootfs);
    process.stdout.write(`$ ls ${rootfs}\n${readdirSync(rootfs).join('  ')}\n`);

    say('Run a container in the background: one shim-v2 process per task, its output captured to rotated files');
    const script = 'trap "exit 0" TERM; echo hi; echo "I am $(hostname), pid $$"; while true; do sleep 0.2; done';
    tsrunc(root, ['run', '-d', '--name', 'web', ...runtime, '--rootfs', rootfs, '--', '/bin/sh', '-c', script]);
    tsrunc(root, ['ps']);

    say('Its output, and a command run inside it');
    tsrunc(root, ['logs', 'web']);
    tsrunc(root, ['exec', 'web', '--', 'ls', '/']);
    tsrunc(root, ['exec', 'web', '--', 'ps']);

    say('A one-off container in the foreground: its output streams, its exit status is ours');
    const oneOff = ['run', '--rm', ...runtime, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'echo to stdout; echo to stderr >&2; exit 3'];
    process.stdout.write(`$ ${shown(['tsrunc', ...oneOff])}\n`);
    const code = spawnSync(process.execPath, [TSRUNC, ...oneOff], { env: { ...process.env, TSRUNC_ROOT: root }, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`$ echo $?\n${code.status ?? '?'}\n`);

    say('Stop it (SIGTERM, then SIGKILL after --timeout) and remove it');
    tsrunc(root, ['stop', 'web']);
    tsrunc(root, ['ps', '-a']);
    tsrunc(root, ['rm', 'web']);
    tsrunc(root, ['ps', '-a', '--json']);

    say('Stop the daemon');
    await stopDaemon(daemon);
    // a spare shim leaves when it sees the daemon's events socket close: give it a moment
    let left = leftovers(root);
    for (const until = Date.now() + 3000; left.length > 0 && Date.now() < until; left = leftovers(root)) await new Promise((resolve) => setTimeout(resolve, 50));
    if (left.length > 0) throw new Error(`still running:\n${left.join('\n')}`);
    process.stdout.write('\nNothing left running.\n');
  } catch (err) {
    process.stdout.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    if (daemon !== undefined && daemon.exitCode === null) {
      tsrunc(root, ['rm', '-f', 'web'], true);
      await stopDaemon(daemon);
    }
    process.exitCode = 1;
  } finally {
    if (keep) process.stdout.write(`(root kept: ${root})\n`);
    else rmSync(root, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
const runtimeAt = argv.indexOf('--runtime');
const runtime = runtimeAt >= 0 && argv[runtimeAt + 1] !== undefined ? ['--runtime', argv[runtimeAt + 1] ?? ''] : [];
demo(argv.includes('--keep'), runtime).catch((err: unknown) => {
  process.stderr.write(`demo failed: ${String(err)}\n`);
  process.exitCode = 1;
});
