/**
 * The OOM watcher against the real kernel (cgroup v1, root only; skipped elsewhere): a memory
 * cgroup limited to 16 MiB, a busybox awk allocating 64 MiB in it, the real eventfd on Node's
 * epoll. The OOM is published before the victim's exit is handled however the two libuv callbacks
 * are ordered, exactly once; removing the cgroup stops the watch and closes its eventfd.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../../../native';
import { isUnified } from '../../../shim/cgroups/join';
import { OomWatcher } from '../../../shim/oom/watcher';
import { waitFor } from '../../helpers/wait';
import { skipBecause } from '../../helpers/system';

const MEMORY = '/sys/fs/cgroup/memory';
const ALLOCATE = 'BEGIN{s=sprintf("%67108864s",""); print length(s)}';

/** Open eventfds of this process. */
function eventfds(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]') count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** Runs the allocation in `dir`; resolves with its signal once Node handled its exit. */
function allocateIn(dir: string, onExit: () => void): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec busybox awk '${ALLOCATE}'`], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (_code, signal) => {
      onExit();
      resolve(signal);
    });
  });
}

describe('shim/oom/watcher on the real kernel (cgroup v1 memcg)', function () {
  this.timeout(30_000);
  let dir: string;

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root to make memory cgroups');
    if (isUnified()) skipBecause(this, 'cgroup v2 unified host: this drives the v1 memcg event_control interface');
    if (!existsSync(join(MEMORY, 'cgroup.event_control'))) skipBecause(this, `the kernel has no ${join(MEMORY, 'cgroup.event_control')} (memcg without OOM notification)`);
    if (!existsSync('/bin/busybox')) throw new Error('missing prerequisite: /bin/busybox — apt-get install busybox-static (npm test installs it)');
  });
  beforeEach(() => {
    dir = join(MEMORY, `tsrunc-unit-${process.pid}-${Date.now()}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), '16777216');
  });
  afterEach(() => {
    if (existsSync(dir)) rmdirSync(dir);
  });

  it('publishes the OOM before the exit of the killed process, once, in every round', async () => {
    const baseline = eventfds();
    for (let round = 0; round < 5; round++) {
      const seen: string[] = [];
      const watcher = new OomWatcher({ native: loadNative(), publish: (id) => seen.push(`oom ${id}`) });
      watcher.watch('c', { version: 1, controllers: new Map([['memory', dir]]) });
      const signal = await allocateIn(dir, () => {
        watcher.flush('c'); // the exit path's hook
        seen.push('exit c');
      });
      assert.equal(signal, 'SIGKILL', 'the allocation was OOM-killed');
      await new Promise((resolve) => setTimeout(resolve, 50)); // a late eventfd callback must add nothing
      assert.deepEqual(seen, ['oom c', 'exit c'], `round ${round}`);
      assert.match(readFileSync(join(dir, 'memory.oom_control'), 'utf8'), new RegExp(`oom_kill ${round + 1}`));
      watcher.close();
    }
    assert.equal(eventfds(), baseline, 'every eventfd closed');
  });

  it('exit handled first (the eventfd callback held back): flush publishes the OOM, before the exit', async () => {
    const real = loadNative();
    let gate = false;
    // a readiness callback that libuv runs late: level-triggered, it fires again once let through
    const native = { ...real, watchFd: (fd: number, onEvent: Parameters<typeof real.watchFd>[1]) => real.watchFd(fd, (ev) => gate && onEvent(ev)) };
    const seen: string[] = [];
    let flushing = false;
    const watcher = new OomWatcher({ native, publish: (id) => seen.push(flushing ? `oom ${id} (flush)` : `oom ${id}`) });
    watcher.watch('c', { version: 1, controllers: new Map([['memory', dir]]) });
    await allocateIn(dir, () => {
      flushing = true;
      watcher.flush('c');
      flushing = false;
      seen.push('exit c');
    });
    gate = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(seen, ['oom c (flush)', 'exit c']);
    watcher.close();
  });

  it('stops by itself when the cgroup is removed (the kernel signals the eventfd), closing it', async () => {
    const baseline = eventfds();
    const seen: string[] = [];
    const watcher = new OomWatcher({ native: loadNative(), publish: (id) => seen.push(id) });
    watcher.watch('c', { version: 1, controllers: new Map([['memory', dir]]) });
    assert.equal(eventfds(), baseline + 1);
    rmdirSync(dir);
    await waitFor(() => watcher.size === 0, { what: 'the watch to stop after the rmdir' });
    assert.equal(eventfds(), baseline);
    assert.deepEqual(seen, []);
    watcher.close();
  });
});
