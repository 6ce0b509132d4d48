/**
 * The soak (`npm run soak`): the reliability scenarios of test/e2e/shim-reliability-*.test.ts and
 * shim-hostile.test.ts with the full counts — 1000 exec cycles, 200 container cycles in one
 * group shim (and 50 with a shim each), an orphan storm, ten containerd SIGKILL/restarts
 * mid-output, 15 rounds of 500 concurrent connections and a fuzz run of 200 000 generated and
 * mutated frames against a live shim. Each prints its figures (fds, sockets, RSS, mounts, timings).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Client } from 'ttrpc-ts';
import { Status, TaskServiceDefinition } from '../../proto';
import { Containerd } from '../helpers/containerd';
import { containerCycles, execCycles, heapSummary, liveHeapKiB, orphanWorkload, rssSummary } from '../helpers/leak-scenarios';
import { containerdRestartScenario } from '../helpers/restart-scenario';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { fuzzShim } from '../helpers/shim-fuzz';
import { exited, fdCount, figures, rssKiB, unixSocketsOf } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

describe('soak: leaks at full counts (ours, real containerd + runc)', () => {
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'mkfifo', 'tar']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  it('1000 exec cycles after 1000 of warm-up: fds, sockets, bundle/runc/temp files back where they started; RSS flat', async () => {
    // V8 sizes its heap to the allocation rate: an exec loop's RSS climbs for ~2000 cycles, then stays
    figures('exec cycles', await execCycles(ct, 1000, 1000));
  });

  it('200 container cycles in one group shim after 300 of warm-up: nothing left of any cycle; fds and sockets back; RSS flat', async () => {
    // measured over 800 cycles: RSS climbs in V8 heap-sizing steps until ~550 cycles (~95 MiB), the live heap stays ~10–13 MiB
    figures('grouped container cycles', await containerCycles(ct, 200, true, 300));
  });

  it('50 container cycles with a shim each: no shim, socket, mount, bundle, runc state or cgroup left', async () => {
    figures('ungrouped container cycles', await containerCycles(ct, 50, false));
  });

  it('an orphan storm (2000 rounds): zero zombies whose parent is a shim', async () => {
    figures('orphans', await orphanWorkload(ct, 2000));
  });
});

describe('soak: containerd SIGKILLed and restarted ten times mid-output (ours)', () => {
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  it('every line arrives once, in order, through ten outages of 1 s (the FIFO reader re-attaching after every other one); Wait on the last containerd returns the statuses', async () => {
    figures('containerd restarts', { ...(await containerdRestartScenario(ct, 10, 1000, true)) });
  });
});

describe('soak: hostile input on a live shim (ours)', () => {
  let ct: Containerd;
  let id: string;
  let socket: string;
  let shimPid: number;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    id = uniqueId('sh');
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000000']);
    socket = ct.shimSocket(id);
    const { task, close } = await connectTask(socket);
    shimPid = (await task.connect({ id })).shimPid;
    await close();
  });
  after(async () => {
    let shimExited = true;
    if (ct && id) {
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
      shimExited = await waitFor(() => ct.shimEnded(shimPid), { what: 'the shim to exit (or be a spare again) once its container is deleted', timeoutMs: 10_000 }).catch(() => false);
    }
    const socketLeft = socket !== undefined && existsSync(socket);
    await ct?.stop();
    assert.ok(shimExited, 'the shim exits once its container is deleted, after the whole soak');
    assert.equal(socketLeft, false, 'and removes its socket');
  });

  const state = async (): Promise<number> => {
    const { task, close } = await connectTask(socket);
    try {
      return (await task.state({ id, execId: '' }, { timeout: 5000 })).status;
    } finally {
      await close();
    }
  };

  it('15 rounds of 500 concurrent connections calling State: all answered, fds back each time; RSS flat after 5', async () => {
    const fdsBefore = fdCount(shimPid);
    const rss: number[] = [];
    const heap: number[] = [];
    const started = Date.now();
    for (let round = 0; round < 15; round++) {
      const clients = await Promise.all(Array.from({ length: 500 }, () => Client.connect(socket, { timeout: 10_000 })));
      try {
        const results = await Promise.all(clients.map((c) => c.service(TaskServiceDefinition).state({ id, execId: '' }, { timeout: 20_000 })));
        assert.ok(results.every((r) => r.status === Status.RUNNING && r.pid > 0));
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      await waitFor(() => fdCount(shimPid) <= fdsBefore, { what: `round ${round}: fds back to ${fdsBefore}`, timeoutMs: 10_000 });
      if (round < 5) continue; // warm-up: V8 grows its heap to this allocation rate
      rss.push(rssKiB(shimPid));
      heap.push(await liveHeapKiB(ct, shimPid));
    }
    figures('500 concurrent × 15', { ms: Date.now() - started, fds: { before: fdsBefore, after: fdCount(shimPid) }, rssKiBPerRound: rss, rss: rssSummary(rss), liveHeap: heapSummary(heap) });
  });

  it('fuzz: 200 000 generated and mutated frames; the shim never crashes or hangs and keeps serving', async () => {
    const before = { fds: fdCount(shimPid), unixSockets: unixSocketsOf(shimPid).length, rssKiB: rssKiB(shimPid) };
    const result = await fuzzShim({
      socket,
      containerId: id,
      frames: 200_000,
      seed: 0x50a4,
      checkEvery: 100,
      check: async (n) => {
        assert.ok(!exited(shimPid), `alive after ${n} connections`);
        assert.equal(await state(), 2, `RUNNING after ${n} connections`);
      },
    });
    await waitFor(() => fdCount(shimPid) <= before.fds, { what: `fds back to ${before.fds} (now ${fdCount(shimPid)})`, timeoutMs: 10_000 });
    const after = { fds: fdCount(shimPid), unixSockets: unixSocketsOf(shimPid).length, rssKiB: rssKiB(shimPid) };
    figures('fuzz', { ...result, before, after });
    assert.equal(result.undecodable, 0);
    assert.equal(after.unixSockets, before.unixSockets);
    assert.equal(await state(), 2);
  });
});
