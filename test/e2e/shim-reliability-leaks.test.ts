/**
 * Leaks, with counts that fit `npm test` (the soak, test/soak/shim-leaks.test.ts, runs the same
 * scenarios with the full counts: 1000 exec cycles, 200 container cycles): exec cycles and
 * container cycles from an image (grouped: one shim through all of them; ungrouped: a shim each)
 * leave the shim's fds, sockets, snapshot mounts and files under the state dirs where they started and its RSS flat
 * after warm-up; an orphan-spawning workload leaves zero zombies whose parent is a shim.
 */
import { Containerd } from '../helpers/containerd';
import { containerCycles, execCycles, orphanWorkload } from '../helpers/leak-scenarios';
import { figures } from '../helpers/shim-metrics';
import { requireSystem } from '../helpers/system';

describe('reliability: leaks (ours, real containerd + runc; short counts — the soak runs the full ones)', function () {
  this.timeout(180_000);
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'mkfifo', 'tar']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  it('300 exec cycles after 500 of warm-up (null, FIFO and file:// stdio): fds, sockets, bundle and runc files back where they started; RSS flat', async () => {
    // V8 sizes its heap to the allocation rate: RSS climbs steeply for the first ~500 cycles (warm-up)
    figures('exec cycles', await execCycles(ct, 300, 500));
  });

  it('50 container cycles in one group shim: nothing left of any cycle; the shim’s fds and sockets back; RSS flat', async () => {
    figures('grouped container cycles', await containerCycles(ct, 50, true, 10));
  });

  it('15 container cycles with a shim each: no shim process, socket, mount, bundle, runc state or cgroup left', async () => {
    figures('ungrouped container cycles', await containerCycles(ct, 15, false));
  });

  it('an orphan-spawning workload (300 rounds, execs too): zero zombies whose parent is a shim', async () => {
    figures('orphans', await orphanWorkload(ct, 300));
  });
});
