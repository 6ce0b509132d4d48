/**
 * Reliability across restarts and crashes, under a real containerd + runc (ours):
 *  - containerd SIGKILLed and restarted while containers write a numbered line every ~5 ms to a
 *    stdout FIFO and to a file:// log: the tasks stay RUNNING, every line arrives exactly once and
 *    in order, and Wait through the NEW containerd (and on the shim) returns the exit status;
 *  - the shim SIGKILLed (alone, and a grouped shim holding two tasks): containerd's cleanup
 *    (`delete`) leaves no container process, mount, socket, runc state or cgroup behind, reports
 *    137, and the container records can be removed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd, mountsUnder, processesWithArgs } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { buildImage } from '../helpers/image';
import { gone, processTable } from '../helpers/proc';
import { FifoReader, containerdRestartScenario, taskList as tasks } from '../helpers/restart-scenario';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { SIG, caughtSignals, figures, listDir, rssKiB } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const IMAGE = 'docker.io/library/tsrunc-rel:1';

/** Cgroup directories named `<namespace>/<id>` in every v1 hierarchy (and the unified one). */
function cgroupDirs(namespace: string, id: string): string[] {
  return listDir('/sys/fs/cgroup')
    .map((h) => join('/sys/fs/cgroup', h, namespace, id))
    .filter((d) => existsSync(d));
}

describe('reliability: containerd SIGKILLed and restarted mid-output (ours, real containerd + runc)', function () {
  this.timeout(120_000);
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  it('tasks stay RUNNING, every line arrives once and in order (stdout FIFO and file:// log), Wait through the new containerd returns the exit status', async () => {
    // the outage lasts 1.5 s: at ~190 lines/s each writer produces ~280 lines meanwhile
    figures('containerd restart', { ...(await containerdRestartScenario(ct, 1, 1500)) });
  });

  it('the FIFO reader goes away with containerd and a new one attaches after the restart: the lines written meanwhile wait for it, none lost', async () => {
    figures('containerd restart, reader re-attached', { ...(await containerdRestartScenario(ct, 1, 1500, true)) });
  });

  it('1.3 MiB written while no client reads the stdout FIFO: the container is held back (not the shim’s memory), and a late reader gets every line', async () => {
    const id = uniqueId('rb');
    const lines = 200_000;
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', `trap 'go=1' USR2; while [ -z "$go" ]; do usleep 10000; done; seq 1 ${lines}; echo end; exec sleep 100000`]);
    let reader: FifoReader | undefined;
    try {
      const { task, close } = await connectTask(ct.shimSocket(id));
      const state = await task.state({ id, execId: '' });
      const { shimPid } = await task.connect({ id });
      await close();
      await waitFor(() => caughtSignals(state.pid).has(SIG.USR2), { what: 'the trap' });
      const rssBefore = rssKiB(shimPid);
      process.kill(state.pid, 'SIGUSR2');
      // nobody reads: the FIFO (64 KiB) and the pipe fill up, then `seq` must block in write(2)
      const comm = (pid: number): string => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      };
      const seq = await waitFor(() => processTable().find(([p, , ppid]) => ppid === state.pid && comm(p) === 'seq')?.[0], { what: 'seq to start' });
      await waitFor(() => /pipe/.test(readFileSync(`/proc/${seq}/wchan`, 'utf8')), { what: 'seq to block writing its stdout', timeoutMs: 10_000 });
      const rssBlocked = rssKiB(shimPid);
      reader = new FifoReader(state.stdout);
      const r = reader;
      await waitFor(() => r.text.endsWith('end\n'), { what: 'every line to reach the late reader', timeoutMs: 30_000 });
      const got = r.text.split('\n');
      assert.equal(got.length, lines + 2, 'every line, plus "end"');
      for (let i = 0; i < lines; i++) if (got[i] !== String(i + 1)) assert.fail(`line ${i + 1} is ${JSON.stringify(got[i])}`);
      figures('no reader, then a late one', { bytes: r.text.length, shimRssGrowthWhileBlockedKiB: rssBlocked - rssBefore });
      assert.ok(rssBlocked - rssBefore < 8 * 1024, `the shim held the writer back instead of buffering (${rssBlocked - rssBefore} KiB)`);
    } finally {
      reader?.close();
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
    }
  });
});

describe('reliability: shim SIGKILLed (ours, real containerd + runc)', function () {
  this.timeout(120_000);
  let ct: Containerd;
  let events: EventWatcher;
  let scratch: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'tar']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
    scratch = mkdtempSync('/tmp/tsrunc-rel-');
    const tarball = buildImage({ name: IMAGE, rootfs: sharedRootfs(), cmd: ['/bin/sh'] }, join(scratch, 'image.tar'));
    await ct.ctrOk(['images', 'import', tarball]);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shim SIGKILLed: `delete` leaves no container process (children and execs too), mount, socket, runc state or cgroup; 137 reported; container removable', async () => {
    const id = uniqueId('rk');
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, IMAGE, id, '/bin/sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    await ct.ctrOk(['task', 'exec', '--detach', '--exec-id', 'e1', id, '/bin/sleep', '1000']);
    const bundle = ct.bundle(id);
    const { task, close } = await connectTask(ct.shimSocket(id));
    const { shimPid, taskPid } = await task.connect({ id });
    await close();
    const pids = await ct.taskPids(id);
    assert.equal(pids.length, 4, 'init, two children and the exec');
    assert.deepEqual(mountsUnder(join(bundle, 'rootfs')), [join(bundle, 'rootfs')], 'the snapshot is mounted');
    const runcState = join('/run/containerd/runc', ct.namespace, id);
    assert.ok(existsSync(runcState));
    assert.ok(cgroupDirs(ct.namespace, id).length > 0, 'the container has cgroups');

    process.kill(shimPid, 'SIGKILL');
    await events.until((all) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id), `containerd's delete event for ${id}`, 20_000);
    const exit = events.forContainer(id).find((e) => e.topic === '/tasks/exit');
    assert.equal(exit?.event['exit_status'], 137);
    assert.equal(exit?.event['pid'], taskPid);
    await waitFor(() => pids.every((p) => gone(p)), { what: 'every container process (children and exec too) to be gone' });
    assert.deepEqual(mountsUnder(ct.dir).filter((m) => m.includes(id)), [], 'no mount left');
    assert.equal(existsSync(ct.shimSocket(id)), false, 'no socket left');
    assert.equal(existsSync(runcState), false, 'no runc state left');
    await waitFor(() => !existsSync(bundle), { what: 'containerd to remove the bundle' });
    assert.deepEqual(cgroupDirs(ct.namespace, id), [], 'no cgroup left');
    assert.equal((await tasks(ct)).has(id), false);
    assert.equal((await ct.ctr(['container', 'rm', id])).code, 0, 'the container record can be removed');
    assert.equal((await ct.ctrOk(['container', 'ls', '-q'])).split('\n').includes(id), false);
  });

  it('a grouped shim SIGKILLed: both of its tasks are reported 137 and cleaned up', async () => {
    const group = uniqueId('rg');
    const ids = [uniqueId('rm'), uniqueId('rm')];
    for (const id of ids) await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--label', `io.containerd.runc.v2.group=${group}`, IMAGE, id, '/bin/sleep', '1000']);
    const shims = ct.shimPids().filter((p) => ids.some((id) => processesWithArgs(['-id', id]).includes(p)));
    assert.equal(shims.length, 1, 'one shim for the group');
    const pids = (await tasks(ct));
    const initPids = ids.map((id) => pids.get(id)?.pid ?? 0);
    process.kill(shims[0] ?? 0, 'SIGKILL');
    await events.until((all) => ids.every((id) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id)), 'delete events of both tasks', 20_000);
    for (const [i, id] of ids.entries()) {
      const exit = events.forContainer(id).find((e) => e.topic === '/tasks/exit');
      assert.equal(exit?.event['exit_status'], 137, `${id}: 137`);
      assert.equal(exit?.event['pid'], initPids[i]);
    }
    await waitFor(() => initPids.every((p) => gone(p)), { what: 'both containers to be gone' });
    assert.ok(!processTable().some(([, state, ppid]) => state === 'Z' && ppid === shims[0]), 'no zombie of the dead shim');
    for (const id of ids) {
      assert.deepEqual(mountsUnder(ct.dir).filter((m) => m.includes(id)), []);
      assert.equal(existsSync(join('/run/containerd/runc', ct.namespace, id)), false);
      assert.equal((await ct.ctr(['container', 'rm', id])).code, 0);
    }
    assert.equal(existsSync(ct.shimSocket(group)), false, 'the group socket is removed');
  });
});
