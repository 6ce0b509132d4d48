/**
 * `tsrunc` end to end: a private daemon, real runc, and every CLI verb against both shims — ours
 * (the default runtime) and Go's containerd-shim-runc-v2 (`--runtime io.containerd.runc.v2`), with
 * the same expectations.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';
import { api } from '../../supervisor/api/convert';
import { SupervisorClient } from '../../supervisor/cli/client';
import { pathsFor } from '../../supervisor/config';
import { mountsUnder } from '../helpers/containerd';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label } from '../helpers/runtimes';
import { Supervisor, TSRUNC } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('tsrunc verbs (daemon + CLI, real runc)', function () {
  this.timeout(60_000);
  let sv: Supervisor;
  let rootfs: string;
  let n = 0;

  before(async function () {
    requireSystem(this, ['runc', 'containerd-shim-runc-v2', 'busybox']);
    rootfs = sharedRootfs();
    sv = new Supervisor();
    await sv.startDaemon();
  });
  after(async () => {
    await sv?.cleanup();
  });

  it('answers `version` with the daemon pid, root and namespace', async () => {
    const out = await sv.ok(['version']);
    assert.match(out, new RegExp(`pid ${sv.pid}, namespace ${sv.namespace}, root ${sv.root}`));
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
      const name = (): string => `${runtime === GO_RUNTIME ? 'go' : 'ts'}${++n}`;
      const runD = (nm: string, script: string, extra: string[] = []): Promise<string> =>
        sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, ...extra, '--rootfs', rootfs, '--', '/bin/sh', '-c', script]);

      it('run -d prints the id; ps, ps --json and inspect show it running under the runtime', async () => {
        const nm = name();
        const id = (await runD(nm, 'echo hi; sleep 1000')).trim();
        assert.match(id, /^[0-9a-f]{12}$/);
        const table = await sv.ok(['ps']);
        const header = table.split('\n')[0] ?? '';
        assert.match(header, /^NAME\s+CONTAINER ID\s+STATUS\s+PID\s+RUNTIME\s+CREATED\s+COMMAND$/);
        const row = table.split('\n').find((l) => l.startsWith(`${nm} `)) ?? '';
        assert.match(row, new RegExp(`^${nm}\\s+${id}\\s+Up .*\\s+\\d+\\s+${runtime.replace(/\./g, '\\.')}\\s+`));
        const c = (await sv.list()).find((x) => x.name === nm);
        assert.equal(c?.status, 'running');
        assert.equal(c?.runtime, runtime);
        assert.ok(alive(c?.pid ?? 0), 'the container init runs');
        const i = await sv.inspect(nm);
        assert.equal(i.id, id);
        assert.equal(i.runtimeBinary, runtime === GO_RUNTIME ? '/usr/bin/containerd-shim-runc-v2' : join(__dirname, '..', '..', '..', 'bin', 'containerd-shim-tsrunc-v2'));
        assert.match(i.shim?.address ?? '', /^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
        await sv.ok(['rm', '-f', nm]);
      });

      it('logs shows stdout and stderr apart; logs -f follows until the container exits', async () => {
        const nm = name();
        await runD(nm, 'echo out1; echo err1 >&2; sleep 0.5; echo out2; exit 0');
        const followed = await sv.cli(['logs', '-f', nm], { timeoutMs: 20_000 });
        assert.equal(followed.code, 0);
        assert.equal(followed.stdout, 'out1\nout2\n');
        assert.equal(followed.stderr, 'err1\n');
        const again = await sv.cli(['logs', nm]);
        assert.deepEqual([again.stdout, again.stderr], ['out1\nout2\n', 'err1\n']);
        await sv.ok(['rm', nm]);
      });

      it('exec runs a command in the container: its output, its exit status, stderr apart', async () => {
        const nm = name();
        await runD(nm, 'sleep 1000');
        const ls = await sv.cli(['exec', nm, '--', 'ls', '/']);
        assert.equal(ls.code, 0, ls.stderr);
        assert.match(ls.stdout, /^bin$/m);
        const r = await sv.cli(['exec', '-e', 'X=42', nm, '--', '/bin/sh', '-c', 'echo $X; echo oops >&2; exit 3']);
        assert.deepEqual([r.code, r.stdout, r.stderr], [3, '42\n', 'oops\n']);
        const big = await sv.cli(['exec', nm, '--', '/bin/sh', '-c', 'seq 1 20000']);
        assert.equal(big.stdout.split('\n').length, 20001, 'large output arrives whole');
        await sv.ok(['rm', '-f', nm]);
      });

      it('kill sends a signal (default SIGKILL); the exit is recorded', async () => {
        const nm = name();
        await runD(nm, "trap 'exit 9' USR1; while true; do sleep 0.05; done");
        await sv.ok(['kill', '-s', 'USR1', nm]);
        await waitFor(async () => (await sv.inspect(nm)).status === 'exited', { what: 'the trapped exit' });
        assert.equal((await sv.inspect(nm)).exitStatus, 9);
        await sv.ok(['rm', nm]);
        const other = name();
        await runD(other, 'sleep 1000');
        await sv.ok(['kill', other]);
        await waitFor(async () => (await sv.inspect(other)).status === 'exited', { what: 'the killed exit' });
        assert.equal((await sv.inspect(other)).exitStatus, 137);
        const again = await sv.cli(['kill', other]);
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /^tsrunc: container \S+ is not running\n$/);
        await sv.ok(['rm', other]);
      });

      it('stop: SIGTERM first; SIGKILL after --timeout for a process that ignores it', async () => {
        const polite = name();
        await runD(polite, "trap 'exit 0' TERM; while true; do sleep 0.05; done");
        await sv.ok(['stop', polite]);
        const p = await sv.inspect(polite);
        assert.deepEqual([p.status, p.exitStatus, p.shim], ['exited', 0, null]);
        const stubborn = name();
        await runD(stubborn, 'sleep 1000'); // sh as pid 1 ignores SIGTERM
        const t0 = Date.now();
        await sv.ok(['stop', '--timeout', '1', stubborn]);
        const elapsed = Date.now() - t0;
        assert.ok(elapsed >= 900 && elapsed < 8000, `stop took ${elapsed} ms`);
        assert.equal((await sv.inspect(stubborn)).exitStatus, 137);
        await sv.ok(['rm', polite, stubborn]);
      });

      it('rm refuses a running container, rm -f removes it and leaves no process, mount, socket or file', async () => {
        const nm = name();
        await runD(nm, 'sleep 1000');
        const c = await sv.inspect(nm);
        const refused = await sv.cli(['rm', nm]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /^tsrunc: cannot remove container \S+: it is running; stop it first or use --force\n$/);
        await sv.ok(['rm', '-f', nm]);
        await waitFor(() => !alive(c.pid), { what: 'the container init to be gone' });
        // the shim exits a moment after it answered Shutdown (Go's as ours)
        await waitFor(() => sv.shimPids(c.id).length === 0 && !existsSync(sv.shimSocket(c.id)), { what: 'no shim process or socket left' });
        assert.deepEqual(mountsUnder(c.bundle), []);
        assert.equal(existsSync(c.bundle), false);
        assert.equal(existsSync(c.logDir), false);
        const gone = await sv.cli(['inspect', nm]);
        assert.deepEqual([gone.code, gone.stderr], [1, `tsrunc: no such container: ${nm}\n`]);
      });

      it('run (attached) streams stdout and stderr apart and returns the exit status; --rm removes it', async () => {
        const nm = name();
        const r = await sv.cli(['run', '--rm', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '-e', 'GREETING=hello', '--', '/bin/sh', '-c', 'echo $GREETING; echo warn >&2; exit 42']);
        assert.deepEqual([r.code, r.stdout, r.stderr], [42, 'hello\n', 'warn\n']);
        assert.equal((await sv.list()).some((c) => c.name === nm), false, '--rm removed it');
        const detached = name();
        await sv.ok(['run', '-d', '--rm', '--name', detached, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'exit 0']);
        await waitFor(async () => !(await sv.list()).some((c) => c.name === detached), { what: 'run -d --rm to remove the exited container' });
        const kept = name();
        const k = await sv.cli(['run', '--name', kept, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/true']);
        assert.equal(k.code, 0);
        assert.equal((await sv.inspect(kept)).status, 'exited');
        await sv.ok(['rm', kept]);
      });

      it('run --bundle uses the bundle config.json (relative root.path), the command overridable', async () => {
        const dir = mkdtempSync('/tmp/tsv-bundle-');
        try {
          cpSync(rootfs, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
          writeFileSync(join(dir, 'config.json'), JSON.stringify(minimalSpec(['/bin/sh', '-c', 'echo from-bundle'])));
          const r = await sv.cli(['run', '--rm', ...runtimeArgs, '--bundle', dir]);
          assert.deepEqual([r.code, r.stdout], [0, 'from-bundle\n'], r.stderr);
          const o = await sv.cli(['run', '--rm', ...runtimeArgs, '--bundle', dir, '--', '/bin/echo', 'overridden']);
          assert.deepEqual([o.code, o.stdout], [0, 'overridden\n'], o.stderr);
          // relative paths are the user's, from where the CLI runs (the daemon's cwd is elsewhere)
          const rel = await sv.cli(['run', '--rm', ...runtimeArgs, '--bundle', basename(dir)], { cwd: dirname(dir) });
          assert.deepEqual([rel.code, rel.stdout], [0, 'from-bundle\n'], rel.stderr);
          const relRootfs = await sv.cli(['run', '--rm', ...runtimeArgs, '--rootfs', 'rootfs', '--', '/bin/echo', 'relative'], { cwd: dir });
          assert.deepEqual([relRootfs.code, relRootfs.stdout], [0, 'relative\n'], relRootfs.stderr);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      /** `tsrunc events --json` running; resolves once the daemon delivers to it (a probe run's events arrive). */
      const watchEvents = async (): Promise<{ text: () => string; stop: () => void }> => {
        const watcher = spawn(process.execPath, [TSRUNC, '--root', sv.root, 'events', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let text = '';
        watcher.stdout.on('data', (b: Buffer) => (text += b.toString()));
        const stop = (): void => {
          watcher.kill('SIGINT');
        };
        try {
          // the subscription is made once the events call reached the daemon: poll for a probe event
          await waitFor(
            async () => {
              const probe = name();
              await sv.ok(['run', '--rm', ...runtimeArgs, '--name', probe, '--rootfs', rootfs, '--', '/bin/true']);
              return text.includes(`"containerName":"${probe}"`);
            },
            { timeoutMs: 20_000, what: 'the event stream to deliver' },
          );
        } catch (err) {
          stop();
          throw err;
        }
        return { text: () => text, stop };
      };

      it('events streams create, start, exit and delete in order', async () => {
        const nm = name();
        const events = await watchEvents();
        try {
          const code = await sv.cli(['run', '--rm', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'exit 5']);
          assert.equal(code.code, 5);
          await waitFor(() => eventsOf(events.text(), nm).includes('/containers/delete'), { what: 'the delete event' });
          // each once, in this order: the task's delete is in the stream before the container's
          // (Go's shim forwards its delete event after answering Delete; the teardown waits for it)
          const topics = eventsOf(events.text(), nm);
          assert.deepEqual(
            topics.filter((t) => ['/containers/create', '/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete'].includes(t)),
            ['/containers/create', '/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete'],
          );
          const exit = events
            .text()
            .split('\n')
            .filter((l) => l.includes(`"containerName":"${nm}"`) && l.includes('"/tasks/exit"'))
            .map((l) => JSON.parse(l) as { exitStatus: number });
          assert.deepEqual(
            exit.map((e) => e.exitStatus),
            [5],
          );
          assert.equal(publishedForShim(sv.logFile, idOf(events.text(), nm)), false, 'the shim published the delete itself');
        } finally {
          events.stop();
        }
      });

      it('a shim whose events cannot reach the daemon: the supervisor publishes the task delete itself, once', async () => {
        // the shim binary behind a wrapper that points its events at a socket nobody serves
        const dir = mkdtempSync(join(sv.root, 'mute-'));
        const shimPath = runtime === OUR_RUNTIME ? join(dirname(TSRUNC), 'containerd-shim-tsrunc-v2') : which('containerd-shim-runc-v2');
        const wrapper = join(dir, 'containerd-shim-mute-v2');
        writeFileSync(wrapper, `#!/bin/sh\nTTRPC_ADDRESS=${join(dir, 'nobody.sock')} exec ${shimPath} "$@"\n`, { mode: 0o755 });
        const nm = name();
        const events = await watchEvents();
        try {
          const code = await sv.cli(['run', '--rm', '--name', nm, '--runtime', wrapper, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'exit 7']);
          assert.equal(code.code, 7, code.stderr);
          await waitFor(() => eventsOf(events.text(), nm).includes('/containers/delete'), { what: 'the delete event' });
          const lines = events
            .text()
            .split('\n')
            .filter((l) => l.includes(`"containerName":"${nm}"`))
            .map((l) => JSON.parse(l) as { topic: string; exitStatus: number });
          assert.deepEqual(
            lines.map((e) => e.topic),
            ['/containers/create', '/tasks/delete', '/containers/delete'],
          );
          assert.equal(lines[1]?.exitStatus, 7);
          assert.equal(publishedForShim(sv.logFile, idOf(events.text(), nm)), true);
        } finally {
          events.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('errors are one clear line with a non-zero status', async () => {
        const failed = name();
        const before = { shims: sv.shimPids(), files: filesUnder(sv.root) };
        const missing = await sv.cli(['run', '--name', failed, ...runtimeArgs, '--rootfs', rootfs, '--', '/no/such/command']);
        assert.equal(missing.code, 127);
        assert.match(missing.stderr, /^tsrunc: .*no such file or directory.*\n$/i);
        assert.equal((await sv.list()).some((c) => c.name === failed), false, 'a failed create leaves no container');
        // nothing else either: no shim, bundle, fifo, runc state, record or log directory
        // (a shim of an earlier test may still be on its way out: fewer is fine)
        await waitFor(() => sv.shimPids().every((p) => before.shims.includes(p)), { what: 'the failed task’s shim to exit' });
        // (the per-namespace directories, e.g. run/tasks/NS, are made by the first task and stay)
        const left = filesUnder(sv.root).filter((f) => !before.files.includes(f) && !f.endsWith('daemon.log') && f.split('/').length > 3);
        assert.deepEqual(left, []);
        const nm = name();
        await runD(nm, 'sleep 1000');
        const dup = await sv.cli(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/true']);
        assert.equal(dup.code, 125);
        assert.equal(dup.stderr, `tsrunc: container name "${nm}" is already in use\n`);
        const usage = await sv.cli(['run', '--rootfs', rootfs]);
        assert.equal(usage.code, 2);
        assert.equal(usage.stderr.split('\n').length, 2, usage.stderr);
        await sv.ok(['rm', '-f', nm]);
      });
    });
  }

  it('understands JSON bootstrap replies (version 2, and 3 = containerd.task.v3.Task) and refuses version 4', async () => {
    const wrapper = (version: number, runReal: boolean): string => {
      const path = join(sv.root, `json-shim-v${version}`);
      const shim = join(__dirname, '..', '..', '..', 'bin', 'containerd-shim-tsrunc-v2');
      writeFileSync(
        path,
        [
          '#!/bin/sh',
          '# answers `start` as a containerd 2.x shim does: JSON with a version',
          'for last; do :; done',
          'if [ "$last" = start ]; then',
          runReal ? `  addr=$(${shim} "$@") || { echo "$addr"; exit 1; }` : '  addr=unix:///nonexistent.sock',
          `  printf '{"version":${version},"address":"%s","protocol":"ttrpc"}' "$addr"`,
          'else',
          `  exec ${shim} "$@"`,
          'fi',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      return path;
    };
    for (const version of [2, 3]) {
      const nm = `json${version}`;
      await sv.ok(['run', '-d', '--name', nm, '--runtime', wrapper(version, true), '--rootfs', rootfs, '--', '/bin/sh', '-c', 'echo v; sleep 1000']);
      const c = await sv.inspect(nm);
      assert.equal(c.shim?.version, version);
      const e = await sv.cli(['exec', nm, '--', '/bin/echo', 'ok']);
      assert.deepEqual([e.code, e.stdout], [0, 'ok\n'], e.stderr);
      await sv.ok(['rm', '-f', nm]);
      await waitFor(() => sv.shimPids(c.id).length === 0, { what: 'the shim to exit after its Shutdown' });
    }
    const refused = await sv.cli(['run', '--runtime', wrapper(4, false), '--rootfs', rootfs, '--', '/bin/true']);
    assert.deepEqual([refused.code, refused.stderr], [125, 'tsrunc: unsupported shim version (4)\n']);
  });

  it('the --runtime may be an absolute path to any shim-v2 binary', async () => {
    const r = await sv.cli(['run', '--rm', '--runtime', '/usr/bin/containerd-shim-runc-v2', '--rootfs', rootfs, '--', '/bin/echo', 'by path']);
    assert.deepEqual([r.code, r.stdout], [0, 'by path\n'], r.stderr);
    const bad = await sv.cli(['run', '--runtime', 'io.containerd.nosuch.v9', '--rootfs', rootfs, '--', '/bin/true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^tsrunc: runtime io\.containerd\.nosuch\.v9: binary containerd-shim-nosuch-v9 not found in PATH or \S+\n$/);
  });

  it('the API refuses a relative --rootfs or --bundle: the daemon cannot know the client’s working directory', async () => {
    const before = (await sv.list()).length;
    const client = SupervisorClient.connect(pathsFor(sv.root));
    try {
      for (const paths of [{ rootfs: 'rootfs' }, { bundle: 'b' }]) {
        await assert.rejects(
          client.call('create', api.CreateRequest.create({ ...paths, args: ['/bin/true'] })),
          (err: Error) => err instanceof ErrdefsError && err.kind === 'invalidArgument' && /must be an absolute path/.test(err.message),
        );
      }
    } finally {
      client.close();
    }
    assert.equal((await sv.list()).length, before, 'nothing was created');
  });
});

/** Every path under `dir` (sockets and fifos included), relative. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** The topics of the events of container `name`, in order. */
/** The absolute path of `binary` in PATH (requireSystem has checked that it is there). */
function which(binary: string): string {
  const dir = (process.env['PATH'] ?? '').split(':').find((d) => d.startsWith('/') && existsSync(join(d, binary)));
  if (dir === undefined) throw new Error(`${binary} is not in PATH`);
  return join(dir, binary);
}

/** Whether the daemon's log says it published a task delete for the shim of container `id`. */
function publishedForShim(logFile: string, id: string): boolean {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .some((l) => l.includes('publishing it for the shim') && l.includes(id));
}

/** The container id of the events of container `name`. */
function idOf(text: string, name: string): string {
  const line = text.split('\n').find((l) => l.includes(`"containerName":"${name}"`));
  const id = line === undefined ? '' : (JSON.parse(line) as { containerId: string }).containerId;
  assert.match(id, /^[0-9a-f]+$/);
  return id;
}

function eventsOf(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes(`"containerName":"${name}"`))
    .map((l) => (JSON.parse(l) as { topic: string }).topic);
}

/** A small runc spec with a relative root.path (what `runc spec` would write, trimmed). */
function minimalSpec(args: string[]): Record<string, unknown> {
  return {
    ociVersion: '1.0.2',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin:/usr/bin'], cwd: '/' },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }] },
  };
}
