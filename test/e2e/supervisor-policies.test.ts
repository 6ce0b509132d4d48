/**
 * `tsrunc` part 2: restart policies (on-failure:N, always, backoff, ended by stop and rm, carried
 * across a daemon kill -9), log rotation limits and `logs --tail/--since/-t`, and `tsrunc shim`
 * talking ttrpc straight to a task's shim — against real runc, with our shim and Go's where the
 * shim's behaviour matters.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label } from '../helpers/runtimes';
import { Supervisor } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('tsrunc restart policies, log options and shim debugging (real runc)', function () {
  this.timeout(90_000);
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

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
      const name = (): string => `${runtime === GO_RUNTIME ? 'gp' : 'tp'}${++n}`;

      it('--restart on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, '--restart', 'on-failure:2', ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'echo run; exit 3']);
        const done = await waitFor(
          async () => {
            const c = await sv.inspect(nm);
            return c.restartCount === 2 && c.status === 'exited' && !c.restarting ? c : undefined;
          },
          { timeoutMs: 20_000, what: 'two restarts and a final exit' },
        );
        assert.deepEqual([done.exitStatus, done.restartPolicy], [3, { name: 'on-failure', maxRetries: 2 }]);
        assert.equal((await sv.ok(['logs', nm])).split('\n').filter((l) => l === 'run').length, 3, 'the logs of every run, in one place');
        assert.match(await sv.ok(['ps', '-a']), new RegExp(`\\n${nm}\\s+\\S+\\s+Exited \\(3\\)`));
        await sv.ok(['rm', nm]);
      });

      it('--restart always restarts after a kill; stop ends the policy', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, '--restart', 'always', ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const first = await sv.inspect(nm);
        await sv.ok(['kill', nm]);
        const again = await sv.restarted(nm, 1, 'the restart after SIGKILL');
        assert.notEqual(again.pid, first.pid);
        assert.ok(alive(again.pid));
        await sv.ok(['stop', '-t', '1', nm]);
        const stopped = await sv.inspect(nm);
        assert.deepEqual([stopped.status, stopped.restarting], ['exited', false]);
        // stays stopped well past the first backoffs (100, 200, 400 ms)
        const deadline = Date.now() + 1500;
        while (Date.now() < deadline) {
          assert.equal((await sv.inspect(nm)).status, 'exited', 'a stopped container is not restarted');
        }
        assert.equal((await sv.inspect(nm)).restartCount, 1);
        await sv.ok(['rm', nm]);
      });

      it('tsrunc shim CONTAINER state|pids asks the shim itself over ttrpc', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const c = await sv.inspect(nm);
        const state = JSON.parse(await sv.ok(['shim', nm, 'state', '--json'])) as { id: string; pid: number; status: string; bundle: string };
        assert.deepEqual([state.id, state.pid, state.status, state.bundle], [c.id, c.pid, 'running', c.bundle]);
        assert.match(await sv.ok(['shim', nm, 'state']), new RegExp(`^id\\s+${c.id}\\n[\\s\\S]*^status\\s+running$`, 'm'));
        const pids = JSON.parse(await sv.ok(['shim', nm, 'pids', '--json'])) as { pid: number }[];
        assert.ok(pids.some((p) => p.pid === c.pid));
        assert.match(await sv.ok(['shim', nm, 'pids']), new RegExp(`^PID\\s+EXEC ID\\n${c.pid}\\s+-\\n`));
        await sv.ok(['kill', nm]);
        // the status changes at the exit; the shim is let go of after it (Delete, Shutdown)
        await waitFor(async () => {
          const x = await sv.inspect(nm);
          return x.status === 'exited' && x.shim === null;
        }, { what: 'the exit, and the task’s shim let go of' });
        const none = await sv.cli(['shim', nm, 'state']);
        assert.equal(none.code, 2);
        assert.match(none.stderr, /^tsrunc: container \S+ has no shim/);
        await sv.ok(['rm', nm]);
      });
    });
  }

  it('a restart policy goes on across a daemon kill -9 (ours)', async () => {
    await sv.ok(['run', '-d', '--name', 'crashy', '--restart', 'always', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'echo up; exit 1']);
    const before = await waitFor(
      async () => {
        const c = await sv.inspect('crashy');
        return c.restartCount >= 1 ? c.restartCount : undefined;
      },
      { timeoutMs: 20_000, what: 'a first restart' },
    );
    await sv.killDaemon();
    await sv.startDaemon();
    await waitFor(
      async () => {
        const c = await sv.inspect('crashy');
        return c.restartCount >= before + 2 || undefined;
      },
      { timeoutMs: 40_000, what: `restarts after the daemon came back (from ${before}): ${JSON.stringify(await sv.inspect('crashy').catch(() => null))}` },
    );
    await sv.ok(['rm', '-f', 'crashy']);
    assert.equal((await sv.cli(['inspect', 'crashy'])).code, 1);
  });

  it('a reboot (the daemon, its shims and tasks gone, <run> emptied): the restart policy makes the bundle again and runs the container', async () => {
    await sv.ok(['run', '-d', '--name', 'rebooted', '--restart', 'always', '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
    const c = await sv.inspect('rebooted');
    const gone = [c.pid, ...sv.shimPids(c.id)];
    await sv.killDaemon();
    for (const pid of gone) process.kill(pid, 'SIGKILL');
    await waitFor(() => !gone.some((pid) => alive(pid)), { what: 'the container and its shim to die' });
    rmSync(join(sv.root, 'run'), { recursive: true, force: true }); // a tmpfs after a reboot
    await sv.startDaemon();
    const again = await sv.restarted('rebooted', 1, 'the restart after the reboot');
    assert.notEqual(again.pid, c.pid);
    assert.ok(alive(again.pid));
    assert.equal(existsSync(join(again.bundle, 'config.json')), true, 'the bundle is there again');
    await sv.ok(['rm', '-f', 'rebooted']);
  });

  // The kill -9 above lands anywhere; these two put the daemon's state on disk exactly where a kill
  // between an exit and its scheduled restart leaves it (the policy is written in by hand, as no
  // test can stop a daemon at that instant).
  it('an exit whose teardown the daemon died in: the task is finished and the restart policy applied at restart', async () => {
    const flag = join(rootfs, 'tmp', 'stop-torn');
    rmSync(flag, { force: true });
    await sv.ok(['run', '-d', '--name', 'torn', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'while [ ! -e /tmp/stop-torn ]; do sleep 0.05; done; exit 3']);
    const c = await sv.inspect('torn');
    const [shimPid] = sv.shimPids(c.id);
    assert.ok(shimPid !== undefined, 'the shim server runs');
    await sv.killDaemon();
    writeFileSync(flag, '');
    await waitFor(() => !alive(c.pid), { what: 'the container to exit' });
    rmSync(flag);
    sv.editRecord(c.id, (r) => {
      // applyExit's write, not yet followed by the teardown's (shim cleared) or the restart's
      Object.assign(r, { status: 'stopped', exitStatus: 3, exitedAt: new Date().toISOString(), restartPolicy: { name: 'always', maxRetries: 0 } });
    });
    await sv.startDaemon();
    const again = await sv.restarted('torn', 1, 'the restart');
    assert.notEqual(again.pid, c.pid);
    await waitFor(() => !alive(shimPid), { what: "the old task's shim to be shut down" });
    await sv.ok(['rm', '-f', 'torn']);
  });

  it('a stopped container whose policy asks for a restart is restarted when the daemon starts', async () => {
    await sv.ok(['run', '-d', '--name', 'dormant', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'exit 2']);
    const c = await waitFor(
      async () => {
        const x = await sv.inspect('dormant');
        return x.status === 'exited' && x.shim === null ? x : undefined;
      },
      { what: 'the exit and teardown' },
    );
    await sv.killDaemon();
    sv.editRecord(c.id, (r) => {
      r.restartPolicy = { name: 'on-failure', maxRetries: 1 };
    });
    await sv.startDaemon();
    const done = await waitFor(
      async () => {
        const x = await sv.inspect('dormant');
        return x.restartCount === 1 && x.status === 'exited' && !x.restarting ? x : undefined;
      },
      { timeoutMs: 20_000, what: 'one restart (on-failure:1), then exited' },
    );
    assert.equal(done.exitStatus, 2);
    await sv.ok(['rm', 'dormant']);
  });

  it('refuses a bad policy and --restart with --rm', async () => {
    const bad = await sv.cli(['run', '--restart', 'sometimes', '--rootfs', rootfs, '--', '/bin/true']);
    assert.deepEqual([bad.code, bad.stderr.split('\n').length], [2, 2]);
    assert.match(bad.stderr, /invalid restart policy "sometimes"/);
    const rm = await sv.cli(['run', '-d', '--rm', '--restart', 'always', '--rootfs', rootfs, '--', '/bin/true']);
    assert.equal(rm.code, 2);
    assert.match(rm.stderr, /conflicting options: --restart and --rm/);
  });

  it('logs --tail, --since and -t', async () => {
    await sv.ok(['run', '-d', '--name', 'talker', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; sleep 1000']);
    await waitFor(async () => (await sv.ok(['logs', 'talker'])).includes('line5'), { what: 'the output' });
    const tail = await sv.cli(['logs', '--tail', '3', 'talker']);
    assert.deepEqual([tail.stdout, tail.stderr], ['line4\nline5\n', 'oops\n']);
    const stamped = await sv.cli(['logs', '-t', 'talker']);
    const lines = stamped.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 5);
    for (const [i, l] of lines.entries()) assert.match(l, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z line${i + 1}$`));
    const all = await sv.cli(['logs', '--since', '1h', 'talker']);
    assert.equal(all.stdout, 'line1\nline2\nline3\nline4\nline5\n');
    const future = await sv.cli(['logs', '--since', new Date(Date.now() + 60_000).toISOString(), 'talker']);
    assert.deepEqual([future.code, future.stdout, future.stderr], [0, '', '']);
    const bad = await sv.cli(['logs', '--since', 'yesterday', 'talker']);
    assert.equal(bad.code, 2);
    await sv.ok(['rm', '-f', 'talker']);
  });

  it('--log-max-size and --log-max-files cap the captured output; logs shows what is kept, in order', async () => {
    await sv.ok(['run', '-d', '--name', 'chatty', '--log-max-size', '8k', '--log-max-files', '2', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done']);
    await waitFor(async () => (await sv.inspect('chatty')).status === 'exited', { what: 'the writer to finish' });
    const c = await sv.inspect('chatty');
    assert.deepEqual(c.logConfig, { maxSize: 8192, maxFiles: 2 });
    const files = readdirSync(c.logDir).filter((f) => f.startsWith('container.log'));
    assert.ok(files.length <= 2, `at most 2 files: ${files.join(' ')}`);
    // records are never split over files, so only a record larger than the cap may pass it (alone)
    for (const f of files) {
      const text = readFileSync(join(c.logDir, f), 'utf8');
      assert.ok(text.length <= 8192 || text.split('\n').filter(Boolean).length === 1, `${f}: ${text.length} bytes`);
    }
    const kept = (await sv.ok(['logs', 'chatty'])).split('\n').filter(Boolean);
    assert.equal(kept[kept.length - 1], 'line 1999', 'the newest output is kept');
    const numbers = kept.map((l) => Number(l.slice('line '.length)));
    for (let i = 1; i < numbers.length; i++) assert.equal(numbers[i], (numbers[i - 1] ?? 0) + 1, 'consecutive, no gap inside what is kept');
    assert.ok(numbers.length < 2000, 'older output was rotated away');
    await sv.ok(['rm', 'chatty']);
  });
});
