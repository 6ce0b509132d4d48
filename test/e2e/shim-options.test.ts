/**
 * Create's inputs: rootfs mounts from an image's snapshot (both runtimes), their rollback and
 * validation, and runtime options through `ctr run --runtime-config-path` (ours; ctr refuses
 * --runc-binary for any runtime but io.containerd.runc.v2).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from 'ttrpc-ts';
import { Containerd, mountsUnder } from '../helpers/containerd';
import { argvOf } from '../helpers/proc';
import { buildImage } from '../helpers/image';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { connectTask, rpcError } from '../helpers/shim-client';
import { fakeBundle, shimAction, shimPid } from '../helpers/shim-process';
import { requireSystem } from '../helpers/system';

const IMAGE = 'docker.io/library/tsrunc-bb:1';

describe('Create inputs: rootfs mounts and runtime options (real containerd + runc)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let scratch: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'tar']);
    ct = await Containerd.start();
    scratch = mkdtempSync('/tmp/tsrunc-opt-');
    const tarball = buildImage({ name: IMAGE, rootfs: sharedRootfs(), cmd: ['/bin/sh'] }, join(scratch, 'image.tar'));
    await ct.ctrOk(['images', 'import', tarball]);
  });
  after(async () => {
    await ct?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const runtime of RUNTIMES) {
    it(`${label(runtime)}: runs an image, its snapshot mounted into bundle/rootfs and unmounted after`, async () => {
      const id = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', runtime, IMAGE, id, '/bin/sleep', '1000']);
      const rootfs = join(ct.bundle(id), 'rootfs');
      assert.deepEqual(mountsUnder(rootfs), [rootfs], 'the overlay snapshot is mounted on bundle/rootfs');
      const r = await ct.ctr(['task', 'exec', '--exec-id', 'e1', id, '/bin/cat', '/etc/passwd']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^root:x:0:0/);
      await ct.ctrOk(['task', 'rm', '-f', id]);
      assert.deepEqual(mountsUnder(ct.bundle(id)), []);
      await ct.ctrOk(['container', 'rm', id]);
    });
  }

  describe('ours only', () => {
    it('runc runs with GOMAXPROCS=4 from the server, as under Go’s server (containerd gives start 2)', async () => {
      const seen = join(scratch, 'gomaxprocs.log');
      const wrapper = join(scratch, 'runc-env');
      // the subcommand, after the global options (whatever they are)
      writeFileSync(wrapper, `#!/bin/sh\nfor a in "$@"; do case $a in create | start | exec | delete) echo "$a $GOMAXPROCS" >> ${seen}; break ;; esac; done\nexec runc "$@"\n`);
      chmodSync(wrapper, 0o755);
      const cfg = join(scratch, 'env.toml');
      writeFileSync(cfg, `BinaryName = "${wrapper}"\n`);
      const id = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--runtime-config-path', cfg, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      await ct.ctrOk(['task', 'exec', '--exec-id', 'e1', id, '/bin/true']);
      // the fact copied (it pins the peer, not our code): Go's server has it in its environment,
      // which its `start` gives it, and its runc inherits it
      const go = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', GO_RUNTIME, '--rootfs', sharedRootfs(), go, '/bin/sleep', '1000']);
      const goShim = ct.shimPids().find((pid) => argvOf(pid).join(' ').includes(` -id ${go} `));
      const goEnv = readFileSync(`/proc/${goShim}/environ`, 'utf8').split('\0');
      for (const task of [id, go]) {
        await ct.ctrOk(['task', 'rm', '-f', task]);
        await ct.ctrOk(['container', 'rm', task]);
      }
      assert.ok(goEnv.includes('GOMAXPROCS=4'), goEnv.join(' '));
      // the server's calls (a `delete` action after them runs with whatever ran it: start's
      // environment, or a spare's)
      const lines = readFileSync(seen, 'utf8').trim().split('\n');
      assert.deepEqual(lines.slice(0, 3), ['create 4', 'start 4', 'exec 4']);
    });

    it('a Create whose runc fails while its rootfs is busy answers runc’s error, not the busy unmount of the rollback', async () => {
      const held = join(scratch, 'held.pid');
      const wrapper = join(scratch, 'runc-busy');
      // create: something keeps the mounted rootfs busy (its cwd there), then runc "fails"
      writeFileSync(
        wrapper,
        `#!/bin/sh
prev=; bundle=; log=; sub=
for a in "$@"; do
  [ "$prev" = --bundle ] && bundle=$a
  [ "$prev" = --log ] && log=$a
  case $a in create | start | delete | kill | state | exec) [ -z "$sub" ] && sub=$a ;; esac
  prev=$a
done
if [ "$sub" = create ]; then
  (cd "$bundle/rootfs" && exec sleep 60 </dev/null >/dev/null 2>&1) &
  echo $! > ${held}
  # the rollback must find the rootfs busy: wait until the holder is in it
  until [ "$(readlink /proc/$!/cwd)" = "$bundle/rootfs" ]; do sleep 0.01; done
  echo '{"level":"error","msg":"wrapper refused create","time":"2026-01-01T00:00:00Z"}' >> "$log"
  exit 1
fi
exec runc "$@"
`,
      );
      chmodSync(wrapper, 0o755);
      const cfg = join(scratch, 'busy.toml');
      writeFileSync(cfg, `BinaryName = "${wrapper}"\n`);
      const id = uniqueId();
      try {
        const r = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, '--runtime-config-path', cfg, IMAGE, id, '/bin/true']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /OCI runtime create failed: wrapper refused create/);
        assert.doesNotMatch(r.stderr, /EBUSY|umount/);
      } finally {
        if (existsSync(held)) {
          try {
            process.kill(Number(readFileSync(held, 'utf8')), 'SIGKILL');
          } catch {
            // gone
          }
        }
        for (const m of mountsUnder(ct.bundle(id))) execFileSync('umount', ['-l', m]);
        await ct.ctr(['container', 'rm', id]);
      }
    });

    it('BinaryName from --runtime-config-path runs a wrapper of runc for every runc call', async () => {
      const calls = join(scratch, 'calls.log');
      const wrapper = join(scratch, 'runc-wrapper');
      writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${calls}\nexec runc "$@"\n`);
      chmodSync(wrapper, 0o755);
      const runcRoot = join(scratch, 'runc-root');
      ct.registerRuncRoot(join(runcRoot, ct.namespace));
      const cfg = join(scratch, 'tsrunc.toml');
      writeFileSync(cfg, `# runc options for io.containerd.tsrunc.v2\nBinaryName = "${wrapper}"\nRoot = "${runcRoot}"\n`);
      const id = uniqueId();
      const r = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, '--runtime-config-path', cfg, '--rootfs', sharedRootfs(), id, '/bin/echo', 'wrapped']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'wrapped\n');
      const lines = readFileSync(calls, 'utf8').trim().split('\n');
      const commands = lines.map((l) => l.split(' ')[6]);
      assert.deepEqual(commands.slice(0, 2), ['create', 'start']);
      assert.ok(commands.includes('delete'));
      for (const line of lines) assert.ok(line.startsWith(`--root ${join(runcRoot, ct.namespace)} --log ${ct.bundle(id)}/log.json --log-format json`), line);
    });

    it('a bad options file is InvalidArgument with the reason', async () => {
      const missing = join(scratch, 'missing.toml');
      const r = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, '--runtime-config-path', missing, '--rootfs', sharedRootfs(), uniqueId(), '/bin/true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`runtime options file ${missing}: no such file: invalid argument`));
      const typo = join(scratch, 'typo.toml');
      writeFileSync(typo, 'BinaryNmae = "runc"\n');
      const r2 = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, '--runtime-config-path', typo, '--rootfs', sharedRootfs(), uniqueId(), '/bin/true']);
      assert.match(r2.stderr, /unknown key BinaryNmae: invalid argument/);
    });

    it('Create rolls rootfs mounts back when one fails, and refuses a bad mount spec before touching anything', async () => {
      const b = fakeBundle(uniqueId('m'), `ns${uniqueId()}`);
      try {
        assert.equal((await shimAction(b, 'start')).code, 0);
        const { task, close } = await connectTask(b.socket);
        const base = { id: b.id, bundle: b.bundle, terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: '', parentCheckpoint: '', options: null };
        const failing = await rpcError(() =>
          task.create({ ...base, rootfs: [{ type: 'tmpfs', source: 'tmpfs', target: '', options: ['size=1m'] }, { type: 'ext4', source: '/nonexistent-device', target: '', options: [] }] }),
        );
        assert.equal(failing.code, Code.UNKNOWN);
        assert.match(failing.message, /^failed to mount rootfs component 1 \(ext4 \/nonexistent-device\)/);
        assert.deepEqual(mountsUnder(join(b.bundle, 'rootfs')), [], 'the tmpfs mounted first was rolled back');
        const invalid = await rpcError(() => task.create({ ...base, rootfs: [{ type: 'bad type', source: 'x', target: '../../etc', options: [] }] }));
        assert.equal(invalid.code, Code.INVALID_ARGUMENT);
        assert.match(invalid.message, /rootfs mount 0 \(bad type x\): invalid type "bad type": invalid argument/);
        const badOptions = await rpcError(() => task.create({ ...base, rootfs: [], options: { typeUrl: 'example.com/Unknown', value: new Uint8Array(0) } }));
        assert.equal(badOptions.code, Code.INVALID_ARGUMENT);
        assert.match(badOptions.message, /unsupported runtime options type example\.com\/Unknown/);
        assert.equal(existsSync(join(b.bundle, 'options.json')), false, 'nothing written for refused requests');
        await task.shutdown({ id: b.id, now: false }).catch(() => undefined);
        await close();
      } finally {
        try {
          process.kill(shimPid(b), 'SIGKILL');
        } catch {
          // exited after Shutdown
        }
        rmSync(b.socket, { force: true }); // as containerd's `delete` of a dead shim would
        b.remove();
      }
    });
  });
});
