/**
 * Checkpoint, and restore through Create with a checkpoint (shim part 2), with a fake runtime that
 * records its argv (criu cannot work on this kernel): the runc command lines and CheckpointOptions
 * mapping of PROTOCOL §7.8/§9.2, the criu failure message, /tasks/checkpointed, and a restored
 * container that runs, exits and is deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from 'ttrpc-ts';
import { packMessage, runcOptions } from '../../proto';
import { Containerd, REPO } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask, rpcError } from '../helpers/shim-client';
import { fakeBundle, shimAction, shimPid } from '../helpers/shim-process';
import { requireSystem } from '../helpers/system';

describe('checkpoint and restore with a fake runtime (ours)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let events: EventWatcher;
  let scratch: string;
  let wrapper: string;
  let calls: string;

  const recorded = (): string[][] => readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  const commandOf = (argv: string[]): string | undefined => argv.find((a, i) => !a.startsWith('-') && !['--root', '--log', '--log-format', '--criu'].includes(argv[i - 1] ?? ''));

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
    scratch = mkdtempSync('/tmp/tsrunc-ckpt-');
    calls = join(scratch, 'calls.jsonl');
    wrapper = join(scratch, 'fake-runtime');
    writeFileSync(wrapper, `#!/bin/sh\nFAKE_RUNC_LOG=${calls} exec ${process.execPath} ${join(REPO, 'dist', 'test', 'fixtures', 'fake-runc.js')} "$@"\n`);
    chmodSync(wrapper, 0o755);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('runs `runc checkpoint` with the options mapped, publishes /tasks/checkpointed, and reports a criu failure', async () => {
    const cfg = join(scratch, 'fake.toml');
    writeFileSync(cfg, `BinaryName = "${wrapper}"\n`);
    const id = uniqueId();
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--runtime-config-path', cfg, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
    const { task, close } = await connectTask(ct.shimSocket(id));
    try {
      const image = join(scratch, 'image1');
      const options = packMessage('containerd.runc.v1.CheckpointOptions', runcOptions.CheckpointOptions, {
        exit: false,
        openTcp: true,
        externalUnixSockets: true,
        terminal: false,
        fileLocks: true,
        emptyNamespaces: ['network', 'ipc'],
        cgroupsMode: 'soft',
        imagePath: '',
        workPath: '',
      });
      await task.checkpoint({ id, path: image, options });
      const argv = recorded().find((a) => commandOf(a) === 'checkpoint') ?? [];
      const bundle = ct.bundle(id);
      assert.deepEqual(argv.slice(argv.indexOf('checkpoint')), [
        'checkpoint', '--image-path', image, '--work-path', `${bundle}/work/criu-work`,
        '--tcp-established', '--ext-unix-sk', '--file-locks', '--empty-ns', 'network', '--empty-ns', 'ipc', '--leave-running', id,
      ]);
      assert.ok(existsSync(join(image, 'fake-checkpoint.json')));
      assert.equal(existsSync(`${bundle}/work/criu-work`), false, 'the default work dir is removed afterwards');
      await events.until((all) => all.some((e) => e.topic === '/tasks/checkpointed' && e.event['container_id'] === id), 'the checkpointed event');
      assert.equal(events.forContainer(id).find((e) => e.topic === '/tasks/checkpointed')?.event['checkpoint'], image);
      assert.equal((await task.state({ id, execId: '' })).status, 2, 'left running');

      const failed = await rpcError(() => task.checkpoint({ id, path: join(scratch, 'fail-image'), options: null }));
      assert.equal(failed.code, Code.UNKNOWN);
      assert.equal(failed.message, `criu failed: type DUMP errno 0 path= ${bundle}/criu-dump.log`);
      assert.match(readFileSync(`${bundle}/criu-dump.log`, 'utf8'), /fake criu dump failure/);
    } finally {
      await close();
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
    }
  });

  /**
   * A bundle for `args` (busybox rootfs, no terminal), with a memory limit if given; its shim
   * started, publishing its events to this test's containerd.
   */
  const restorable = async (prefix: string, args: string[], memoryLimit?: number): Promise<ReturnType<typeof fakeBundle>> => {
    const b = fakeBundle(uniqueId(prefix), `ns${uniqueId()}`);
    unlinkSync(join(b.bundle, 'config.json'));
    execFileSync('runc', ['spec', '--bundle', b.bundle]);
    const spec = JSON.parse(readFileSync(join(b.bundle, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[] }; root: { path: string }; linux: Record<string, unknown> };
    spec.process.terminal = false;
    spec.process.args = args;
    spec.root.path = sharedRootfs();
    if (memoryLimit !== undefined) spec.linux['resources'] = { memory: { limit: memoryLimit } };
    writeFileSync(join(b.bundle, 'config.json'), JSON.stringify(spec));
    assert.equal((await shimAction(b, 'start', { env: { TTRPC_ADDRESS: ct.ttrpcAddress } })).code, 0);
    return b;
  };

  /** What a test's restored task leaves: its shim, socket, runc state and bundle. */
  const cleanUp = (b: ReturnType<typeof fakeBundle>): void => {
    try {
      process.kill(shimPid(b), 'SIGKILL');
    } catch {
      // exited after Shutdown
    }
    rmSync(b.socket, { force: true }); // as containerd's `delete` of a dead shim would
    execFileSync('runc', ['--root', `/run/containerd/runc/${b.namespace}`, 'delete', '-f', b.id], { stdio: 'ignore' });
    rmSync(`/run/containerd/runc/${b.namespace}`, { recursive: true, force: true });
    b.remove();
  };

  it('a restored container that hits its memory limit publishes /tasks/oom (its cgroup is watched from Start: Create had no pid)', async () => {
    // it allocates a moment after its start: an OOM before the shim has its pid is not seen (nor by Go's)
    const b = await restorable('ro', ['/bin/sh', '-c', 'sleep 2; exec /bin/awk \'BEGIN{s=sprintf("%67108864s",""); print length(s)}\''], 16 * 1024 * 1024);
    try {
      const { task, close } = await connectTask(b.socket);
      try {
        const options = packMessage('containerd.runc.v1.Options', runcOptions.Options, { binaryName: wrapper });
        await task.create({ id: b.id, bundle: b.bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: join(scratch, 'oom-image'), parentCheckpoint: '', options });
        await task.start({ id: b.id, execId: '' });
        assert.equal((await task.wait({ id: b.id, execId: '' })).exitStatus, 137, 'killed at its limit');
        await events.until((all) => all.some((e) => e.topic === '/tasks/oom' && e.event['container_id'] === b.id), `the /tasks/oom of ${b.id}`);
        await task.delete({ id: b.id, execId: '' });
        await task.shutdown({ id: b.id, now: false }).catch(() => undefined);
      } finally {
        await close();
      }
    } finally {
      cleanUp(b);
    }
  });

  it('restores at Start: Create with a checkpoint answers pid 0 and refuses exec; Start runs `runc restore`', async () => {
    const b = await restorable('r', ['/bin/sleep', '1000']);
    try {
      const { task, close } = await connectTask(b.socket);
      try {
        const image = join(scratch, 'restore-image');
        const created = await task.create({
          id: b.id,
          bundle: b.bundle,
          rootfs: [],
          terminal: false,
          stdin: '',
          stdout: '',
          stderr: '',
          checkpoint: image,
          parentCheckpoint: '',
          options: packMessage('containerd.runc.v1.Options', runcOptions.Options, { binaryName: wrapper }),
        });
        assert.equal(created.pid, 0, 'no process until Start restores it');
        assert.equal((await task.state({ id: b.id, execId: '' })).status, 1, 'CREATED');
        const exec = await rpcError(() => task.exec({ id: b.id, execId: 'e', terminal: false, stdin: '', stdout: '', stderr: '', spec: null }));
        assert.equal(exec.message, 'cannot exec in a created state');
        const started = await task.start({ id: b.id, execId: '' });
        assert.ok(started.pid > 0);
        const argv = recorded().find((a) => commandOf(a) === 'restore' && a.includes(image)) ?? [];
        assert.deepEqual(argv.slice(argv.indexOf('restore')), [
          'restore', '--image-path', image, '--work-path', join(b.bundle, 'work'), '--detach', '--pid-file', join(b.bundle, 'init.pid'), '-no-subreaper', '--bundle', b.bundle, b.id,
        ]);
        await task.kill({ id: b.id, execId: '', signal: 9, all: false });
        assert.equal((await task.wait({ id: b.id, execId: '' })).exitStatus, 137);
        assert.equal((await task.delete({ id: b.id, execId: '' })).pid, started.pid);
        await task.shutdown({ id: b.id, now: false }).catch(() => undefined);
      } finally {
        await close();
      }
    } finally {
      cleanUp(b);
    }
  });
});
