/**
 * The OOM watcher on cgroup v2 (PROTOCOL §11.4): inotify on a scratch copy of the fixture cgroup's
 * memory.events / cgroup.events. An oom_kill increase is one /tasks/oom; `flush` reports it before
 * the inotify callback runs (and the callback then adds nothing); the watch stops when the cgroup
 * empties (still reporting a kill it sees) or is removed; close releases every inotify watch.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeNative } from '../../../native/fake';
import { OomWatcher } from '../../../shim/oom/watcher';
import { MemoryEventsOomSource } from '../../../shim/oom/sources';
import { scratchCopy } from '../../fixtures/cgroups/host';
import { waitFor } from '../../helpers/wait';

const events = (oomKill: number) => `low 0\nhigh 0\nmax 9\noom ${oomKill + 1}\noom_kill ${oomKill}\noom_group_kill 0\n`;

/** Lets pending inotify callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('shim/oom/watcher (cgroup v2 memory.events)', () => {
  let published: string[];
  let watcher: OomWatcher;
  let cgroup: { dir: string; cleanup: () => void };
  const watch = (id = 'c1') => watcher.watch(id, { version: 2, dir: cgroup.dir });

  beforeEach(() => {
    published = [];
    watcher = new OomWatcher({ native: new FakeNative(), publish: (id) => published.push(`oom ${id}`) });
    cgroup = scratchCopy('v2/tsr/c1'); // memory.events has oom_kill 1 already
  });
  afterEach(() => {
    watcher.close();
    cgroup.cleanup();
  });

  it('counts kills from the moment it starts watching, and publishes one event per increase', async () => {
    watch();
    await settle();
    assert.deepEqual(published, [], 'the kill recorded before Create is not reported');
    writeFileSync(join(cgroup.dir, 'memory.events'), events(2));
    await waitFor(() => published.length === 1, { what: 'the OOM event' });
    writeFileSync(join(cgroup.dir, 'memory.events'), events(2)); // a change without a new kill (e.g. "max" events)
    await settle();
    writeFileSync(join(cgroup.dir, 'memory.events'), events(4));
    await waitFor(() => published.length === 2, { what: 'the second OOM event' });
    assert.deepEqual(published, ['oom c1', 'oom c1']);
  });

  it('flush on the exit path reports the kill before the inotify callback runs; the callback then adds nothing', async () => {
    watch();
    writeFileSync(join(cgroup.dir, 'memory.events'), events(2));
    watcher.flush('c1'); // synchronous, before the event loop delivers the inotify event
    published.push('exit c1');
    await settle();
    assert.deepEqual(published, ['oom c1', 'exit c1']);
  });

  it('stops when the cgroup empties, still reporting the kill that emptied it', async () => {
    watch();
    writeFileSync(join(cgroup.dir, 'memory.events'), events(2));
    writeFileSync(join(cgroup.dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    await waitFor(() => watcher.size === 0, { what: 'the watch to stop' });
    assert.deepEqual(published, ['oom c1']);
    watcher.flush('c1');
    assert.deepEqual(published, ['oom c1']);
  });

  it('stops when the cgroup is removed', async () => {
    watch();
    rmSync(cgroup.dir, { recursive: true });
    await waitFor(() => watcher.size === 0, { what: 'the watch to stop' });
    assert.deepEqual(published, []);
  });

  it('unwatch and close release the inotify watches (nothing keeps the loop alive)', () => {
    watch('a');
    watch('b');
    watcher.unwatch('a');
    assert.equal(watcher.size, 1);
    watcher.close();
    assert.equal(watcher.size, 0);
    const source = MemoryEventsOomSource.open(cgroup.dir, () => undefined);
    source.close();
    source.close();
    assert.deepEqual(source.poll(), { oom: false, gone: false }, 'a closed source reports nothing');
  });

  it('refuses a cgroup without memory.events (no memory controller), holding nothing', () => {
    rmSync(join(cgroup.dir, 'memory.events'));
    assert.throws(() => MemoryEventsOomSource.open(cgroup.dir, () => undefined), /memory\.events cannot be read/);
    watch();
    assert.equal(watcher.size, 0);
  });
});
