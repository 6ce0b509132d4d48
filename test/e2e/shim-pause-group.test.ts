/**
 * Pause/Resume and grouping (shim part 2) under real containerd + runc, for Go's shim and ours:
 * events and PAUSED state, an exec's state following its paused container; containers naming the
 * same group share one shim process, each with its own state, events and cleanup, and the shim
 * exits after the last one — without its cwd pinning the first member's deleted bundle.
 */
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { OCI_PROCESS_TYPE_URL, packJson } from '../../proto';
import { Containerd, processesWithArgs } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { alive } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('pause/resume and grouping (real containerd + runc)', function () {
  this.timeout(90_000);
  let ct: Containerd;
  let events: EventWatcher;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      it('pauses and resumes: PAUSED state, events, and an exec reports its container’s pause', async () => {
        const id = uniqueId();
        await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
        const { task, close } = await connectTask(ct.shimSocket(id));
        try {
          await task.exec({ id, execId: 'e1', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, { user: { uid: 0, gid: 0 }, cwd: '/', args: ['/bin/sleep', '1000'] }) });
          await task.start({ id, execId: 'e1' });
          await ct.ctrOk(['task', 'pause', id]);
          assert.match(await ct.ctrOk(['task', 'ls']), new RegExp(`${id}\\s+\\d+\\s+PAUSED`));
          assert.equal((await task.state({ id, execId: 'e1' })).status, 4, 'the exec reports PAUSED');
          const refused = await ct.ctr(['task', 'exec', '--exec-id', 'e2', id, '/bin/true']);
          assert.notEqual(refused.code, 0, 'no exec into a paused container');
          await ct.ctrOk(['task', 'resume', id]);
          assert.match(await ct.ctrOk(['task', 'ls']), new RegExp(`${id}\\s+\\d+\\s+RUNNING`));
          assert.equal((await task.state({ id, execId: 'e1' })).status, 2);
          await events.until((all) => all.some((e) => e.topic === '/tasks/resumed' && e.event['container_id'] === id), 'the resumed event');
          const topics = events.forContainer(id).map((e) => e.topic);
          assert.ok(topics.indexOf('/tasks/paused') < topics.indexOf('/tasks/resumed'));
        } finally {
          await close();
          await ct.ctr(['task', 'rm', '-f', id]);
          await ct.ctr(['container', 'rm', id]);
        }
      });

      it('groups containers naming the same group into one shim, and the shim exits after the last', async () => {
        const group = uniqueId('g');
        const ids = [uniqueId('m'), uniqueId('m')];
        for (const id of ids) await ct.ctrOk(['run', '-d', '--runtime', runtime, '--label', `io.containerd.runc.v2.group=${group}`, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
        const shims = processesWithArgs(['-address', ct.address]).filter((p) => ids.some((id) => processesWithArgs(['-id', id]).includes(p)));
        assert.equal(shims.length, 1, 'one shim process for the group');
        const shim = shims[0] ?? 0;
        const { task, close } = await connectTask(ct.shimSocket(group));
        try {
          const [a, b] = await Promise.all(ids.map((id) => task.state({ id, execId: '' })));
          assert.notEqual(a?.pid, b?.pid, 'each container has its own state');
          assert.equal(a?.bundle, ct.bundle(ids[0] ?? ''));
          // the first member goes away: the other keeps running in the same shim
          await ct.ctrOk(['task', 'rm', '-f', ids[0] ?? '']);
          await ct.ctrOk(['container', 'rm', ids[0] ?? '']);
          assert.ok(alive(shim));
          if (runtime === OUR_RUNTIME) assert.equal(readlinkSync(`/proc/${shim}/cwd`), '/', 'cwd does not pin the deleted bundle');
          assert.equal((await task.state({ id: ids[1] ?? '', execId: '' })).status, 2);
        } finally {
          await close();
        }
        await ct.ctrOk(['task', 'rm', '-f', ids[1] ?? '']);
        await ct.ctrOk(['container', 'rm', ids[1] ?? '']);
        await waitFor(() => ct.shimEnded(shim), { what: 'the group shim to exit (ours: or be the spare again) after its last container' });
        for (const id of ids) {
          const topics = events.forContainer(id).map((e) => e.topic);
          assert.deepEqual(topics.slice(0, 2), ['/tasks/create', '/tasks/start'], `${id}: its own events`);
          assert.ok(topics.includes('/tasks/delete'));
        }
      });
    });
  }
});
