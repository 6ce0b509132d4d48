/**
 * Our shim as subreaper under real containerd: orphans re-parented to it are reaped (no zombie
 * whose parent is the shim — PID 1 of these machines reaps only after ~2 s, so zombies are
 * counted by parent); hundreds of runc invocations run while it reaps, none of their exits lost;
 * a container sharing the host pid namespace dies with its init; and an init's exit is published
 * after the exits of its running execs.
 */
import assert from 'node:assert/strict';
import { Containerd } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { childrenOf, processTable, zombiesOf } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('reaping and exit order in our shim (real containerd + runc)', function () {
  this.timeout(90_000);
  let ct: Containerd;
  let events: EventWatcher;
  // /proc/1/ns/pid is not readable on these VMs; this process is in the host pid namespace too
  const hostPidNs = ['--with-ns', `pid:/proc/${process.pid}/ns/pid`];

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
  });

  const run = (id: string, args: string[], extra: string[] = []) => ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, ...extra, '--rootfs', sharedRootfs(), id, ...args]);
  const remove = async (id: string) => {
    await ct.ctr(['task', 'rm', '-f', id]);
    await ct.ctr(['container', 'rm', id]);
  };

  it('reaps orphans re-parented to it: no zombie whose parent is the shim', async () => {
    const id = uniqueId();
    // the inner sh exits at once: its two sleeps are orphaned to the nearest subreaper, the shim
    await run(id, ['/bin/sh', '-c', 'sh -c "sleep 1 & sleep 1 & exit 0"; sleep 1000'], hostPidNs);
    const { task, close } = await connectTask(ct.shimSocket(id));
    const { shimPid, taskPid } = await task.connect({ id });
    await close();
    const adopted = await waitFor(() => {
      const kids = childrenOf(shimPid).filter((p) => p !== taskPid);
      return kids.length === 2 ? kids : undefined;
    }, { what: 'the orphans to be re-parented to the shim' });
    await waitFor(() => adopted.every((p) => !processTable().some(([pid]) => pid === p)), { what: 'the orphans to exit and be reaped', timeoutMs: 10_000 });
    assert.deepEqual(zombiesOf(shimPid), []);
    await remove(id);
  });

  it('loses no runc exit while reaping: 300 concurrent Pids calls (each a runc ps) during an orphan storm', async () => {
    const id = uniqueId();
    await run(id, ['/bin/sh', '-c', 'while true; do sh -c "true & true & exit 0"; done'], hostPidNs);
    const { task, close } = await connectTask(ct.shimSocket(id));
    const { shimPid, taskPid } = await task.connect({ id });
    const results = await Promise.all(Array.from({ length: 300 }, () => task.pids({ id }, { timeout: 60_000 })));
    assert.equal(results.length, 300);
    for (const r of results) assert.ok(r.processes.some((p) => p.pid === taskPid), 'every call answered with the init listed');
    await task.kill({ id, execId: '', signal: 9, all: true });
    await task.wait({ id, execId: '' });
    await close();
    await waitFor(() => zombiesOf(shimPid).length === 0, { what: 'no zombie of the shim', timeoutMs: 5000 });
    await remove(id);
  });

  it('kills every process of a container that shares the host pid namespace when its init exits', async () => {
    const id = uniqueId();
    await run(id, ['/bin/sh', '-c', 'sleep 1000 & sleep 1000 & exec sleep 1000'], hostPidNs);
    // (the shell forks its sleeps after `run` has returned)
    const pids = await waitFor(async () => {
      const listed = await ct.taskPids(id);
      return listed.length === 3 ? listed : undefined;
    }, { what: 'init and two sleeps' });
    const { task, close } = await connectTask(ct.shimSocket(id));
    await task.kill({ id, execId: '', signal: 9, all: false }); // the init only
    const waited = await task.wait({ id, execId: '' });
    await close();
    assert.equal(waited.exitStatus, 137);
    await waitFor(() => pids.every((p) => !processTable().some(([pid]) => pid === p)), { what: 'every process of the container to be gone' });
    await remove(id);
  });

  it('publishes the exits of running execs before the init exit (containerd 2.x order)', async () => {
    for (let round = 0; round < 3; round++) {
      const id = uniqueId();
      await run(id, ['/bin/sleep', '1000']);
      await ct.ctrOk(['task', 'exec', '--detach', '--exec-id', 'e1', id, '/bin/sleep', '1000']);
      await ct.ctrOk(['task', 'exec', '--detach', '--exec-id', 'e2', id, '/bin/sleep', '1000']);
      await ct.ctrOk(['task', 'kill', '--signal', 'SIGKILL', id]);
      await events.until((all) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === id && e.event['id'] === id), `init exit of ${id}`);
      const exits = events.forContainer(id).filter((e) => e.topic === '/tasks/exit').map((e) => e.event['id']);
      assert.deepEqual(exits.slice().sort(), ['e1', 'e2', id].sort());
      assert.equal(exits[exits.length - 1], id, `round ${round}: the init's exit comes last (${exits.join(', ')})`);
      await remove(id);
    }
  });
});
