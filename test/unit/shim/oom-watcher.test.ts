/**
 * The OOM watcher with cgroup v1 eventfds (PROTOCOL §11.4) on FakeNative and scratch copies of
 * the fixture memory cgroup: registration through cgroup.event_control, one /tasks/oom per
 * notification, OOM-before-exit whichever libuv callback runs first (the `flush` hook), stopping
 * when the cgroup goes away, and every eventfd it opens closed — exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type FdEvents, type FdWatch } from '../../../native';
import { FakeNative } from '../../../native/fake';
import { type CgroupPaths } from '../../../shim/cgroups/paths';
import { OomWatcher } from '../../../shim/oom/watcher';
import { scratchCopy } from '../../fixtures/cgroups/host';

/** A FakeNative whose eventfd readiness callbacks run only when the test says so (`ready`). */
class DeferredNative extends FakeNative {
  private readonly callbacks = new Map<number, (events: FdEvents) => void>();
  override watchFd(fd: number, onEvent: (events: FdEvents) => void): FdWatch {
    this.callbacks.set(fd, onEvent);
    const inner = super.watchFd(fd, () => undefined);
    return {
      ...inner,
      close: () => {
        this.callbacks.delete(fd);
        inner.close();
      },
    };
  }
  /** Runs the readiness callback of `fd`, as libuv would once it polled the epoll. */
  ready(fd: number): void {
    this.callbacks.get(fd)?.({ readable: true, writable: false, disconnect: false });
  }
  get watched(): number {
    return this.callbacks.size;
  }
}

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('shim/oom/watcher (cgroup v1 eventfd)', () => {
  let native: DeferredNative;
  let published: string[];
  let watcher: OomWatcher;
  let cgroup: { dir: string; cleanup: () => void };
  const paths = (dir: string): CgroupPaths => ({ version: 1, controllers: new Map([['memory', dir], ['pids', '/nowhere']]) });
  /** The eventfd the watcher registered, from what it wrote to cgroup.event_control. */
  const registeredEventfd = (dir: string) => Number(readFileSync(join(dir, 'cgroup.event_control'), 'utf8').split(' ')[0]);

  beforeEach(() => {
    native = new DeferredNative();
    published = [];
    watcher = new OomWatcher({ native, publish: (id) => published.push(`oom ${id}`) });
    cgroup = scratchCopy('v1/memory/tsr/c1');
  });
  afterEach(() => {
    watcher.close();
    assert.deepEqual(native.openFds(), [], 'every eventfd opened is closed');
    cgroup.cleanup();
  });

  it('registers "<eventfd> <oom_control fd>" on cgroup.event_control and closes the oom_control fd', () => {
    const before = openFdCount();
    watcher.watch('c1', paths(cgroup.dir));
    const [efd, ocfd] = readFileSync(join(cgroup.dir, 'cgroup.event_control'), 'utf8').split(' ').map(Number);
    assert.deepEqual(native.openFds(), [efd]);
    assert.ok(Number.isInteger(ocfd) && (ocfd ?? 0) > 2);
    assert.equal(openFdCount(), before, 'the oom_control fd is not kept');
    assert.equal(watcher.size, 1);
  });

  it('publishes one /tasks/oom per notification, and nothing for a spurious wake-up', () => {
    watcher.watch('c1', paths(cgroup.dir));
    const efd = registeredEventfd(cgroup.dir);
    native.signalEventfd(efd);
    native.ready(efd);
    assert.deepEqual(published, ['oom c1']);
    native.ready(efd); // counter already consumed
    assert.deepEqual(published, ['oom c1']);
    native.signalEventfd(efd, 3n); // several OOMs between two polls: one event, as Go
    native.ready(efd);
    assert.deepEqual(published, ['oom c1', 'oom c1']);
  });

  describe('OOM before exit, whichever callback libuv runs first', () => {
    /** The exit path as the shim wires it: flush, then queue the exit. */
    const publishExit = (id: string) => {
      watcher.flush(id);
      published.push(`exit ${id}`);
    };

    it('eventfd callback first, then the exit', () => {
      watcher.watch('c1', paths(cgroup.dir));
      const efd = registeredEventfd(cgroup.dir);
      native.signalEventfd(efd); // the kernel: notify, then SIGKILL
      native.ready(efd);
      publishExit('c1');
      assert.deepEqual(published, ['oom c1', 'exit c1']);
    });

    it('exit (SIGCHLD) first: flush publishes the pending OOM before it; the late eventfd callback adds nothing', () => {
      watcher.watch('c1', paths(cgroup.dir));
      const efd = registeredEventfd(cgroup.dir);
      native.signalEventfd(efd);
      publishExit('c1');
      native.ready(efd);
      assert.deepEqual(published, ['oom c1', 'exit c1']);
    });

    it('flush without an OOM, or for a container not watched, publishes nothing', () => {
      watcher.watch('c1', paths(cgroup.dir));
      publishExit('c1');
      publishExit('other');
      assert.deepEqual(published, ['exit c1', 'exit other']);
    });

    it('only the watched container gets the OOM', () => {
      const second = scratchCopy('v1/memory/tsr/c1');
      try {
        watcher.watch('a', paths(cgroup.dir));
        watcher.watch('b', paths(second.dir));
        native.signalEventfd(registeredEventfd(second.dir));
        publishExit('a');
        publishExit('b');
        assert.deepEqual(published, ['exit a', 'oom b', 'exit b']);
      } finally {
        watcher.unwatch('b');
        second.cleanup();
      }
    });
  });

  describe('OOM after the start event: deferred while the init starts', () => {
    /** What the Start call queues between runc start and the release. */
    const queueStart = (id: string): number => published.push(`start ${id}`);

    it('a notification while deferred is held and published at the release, once', () => {
      watcher.watch('c1', paths(cgroup.dir));
      const efd = registeredEventfd(cgroup.dir);
      const release = watcher.defer('c1');
      native.signalEventfd(efd); // OOM-killed while runc start runs
      native.ready(efd);
      assert.deepEqual(published, [], 'held');
      queueStart('c1'); // the Start call queues the start event, then releases
      release();
      release(); // twice: nothing more
      assert.deepEqual(published, ['start c1', 'oom c1']);
      native.ready(efd);
      assert.deepEqual(published, ['start c1', 'oom c1'], 'consumed once');
    });

    it('an exit while deferred does not wait: flush publishes the held OOM before it', () => {
      watcher.watch('c1', paths(cgroup.dir));
      const efd = registeredEventfd(cgroup.dir);
      const release = watcher.defer('c1');
      native.signalEventfd(efd);
      native.ready(efd);
      watcher.flush('c1');
      published.push('exit c1');
      release();
      assert.deepEqual(published, ['oom c1', 'exit c1']);
    });

    it('without an OOM the release publishes nothing; other containers are not held', () => {
      const second = scratchCopy('v1/memory/tsr/c1');
      try {
        watcher.watch('a', paths(cgroup.dir));
        watcher.watch('b', paths(second.dir));
        const release = watcher.defer('a');
        native.signalEventfd(registeredEventfd(second.dir));
        native.ready(registeredEventfd(second.dir));
        release();
        assert.deepEqual(published, ['oom b']);
      } finally {
        watcher.unwatch('b');
        second.cleanup();
      }
    });
  });

  it('stops and closes the eventfd when a notification finds the cgroup gone (runc delete), publishing nothing', () => {
    watcher.watch('c1', paths(cgroup.dir));
    const efd = registeredEventfd(cgroup.dir);
    rmSync(cgroup.dir, { recursive: true });
    native.signalEventfd(efd);
    native.ready(efd);
    assert.deepEqual(published, []);
    assert.equal(watcher.size, 0);
    assert.equal(native.watched, 0, 'the watch is closed');
    assert.deepEqual(native.openFds(), []);
    watcher.unwatch('c1'); // the later Delete: nothing left to close, no double close
    assert.equal(native.calls.filter(([name, fd]) => name === 'close' && fd === efd).length, 1);
  });

  it('unwatch (Delete) closes the watch and the eventfd once; a late callback or flush is ignored', () => {
    watcher.watch('c1', paths(cgroup.dir));
    const efd = registeredEventfd(cgroup.dir);
    watcher.unwatch('c1');
    watcher.unwatch('c1');
    assert.deepEqual(native.openFds(), []);
    assert.equal(native.watched, 0);
    watcher.flush('c1');
    assert.deepEqual(published, []);
    assert.equal(native.calls.filter(([name, fd]) => name === 'close' && fd === efd).length, 1);
  });

  it('watching an id again replaces its source (the old eventfd closed)', () => {
    watcher.watch('c1', paths(cgroup.dir));
    watcher.watch('c1', paths(cgroup.dir));
    assert.equal(native.openFds().length, 1);
    assert.equal(watcher.size, 1);
  });

  it('does not watch a cgroup without a memory controller, and leaks nothing when registration fails', () => {
    const logged: string[] = [];
    const log = { debug: (m: string) => logged.push(m), info: () => undefined, warn: (m: string) => logged.push(m), error: () => undefined, debugEnabled: true, module: () => log };
    const w = new OomWatcher({ native, publish: () => assert.fail('no OOM'), log });
    w.watch('nomem', { version: 1, controllers: new Map([['pids', cgroup.dir]]) });
    w.watch('gone', paths(join(cgroup.dir, 'missing')));
    rmSync(join(cgroup.dir, 'cgroup.event_control'));
    rmSync(join(cgroup.dir, 'memory.oom_control'));
    w.watch('noctl', paths(cgroup.dir));
    assert.equal(w.size, 0);
    assert.deepEqual(native.openFds(), [], 'the eventfd of each failed registration is closed');
    assert.equal(logged.length, 3);
    w.close();
  });

  it('close (shutdown) closes every source once, and later watches are refused', () => {
    const others = [scratchCopy('v1/memory/tsr/c1'), scratchCopy('v1/memory/tsr/c1')];
    try {
      watcher.watch('a', paths(cgroup.dir));
      others.forEach((o, i) => watcher.watch(`o${i}`, paths(o.dir)));
      assert.equal(native.openFds().length, 3);
      watcher.close();
      watcher.close();
      assert.deepEqual(native.openFds(), []);
      watcher.watch('late', paths(cgroup.dir));
      assert.equal(watcher.size, 0);
      assert.deepEqual(native.openFds(), []);
    } finally {
      others.forEach((o) => o.cleanup());
    }
  });

  it('many containers created, OOM-killed, removed and deleted: every eventfd closed exactly once', () => {
    const dirs = Array.from({ length: 20 }, () => scratchCopy('v1/memory/tsr/c1'));
    try {
      dirs.forEach((d, i) => watcher.watch(`c${i}`, paths(d.dir)));
      const efds = dirs.map((d) => registeredEventfd(d.dir));
      dirs.forEach((d, i) => {
        const efd = efds[i] ?? -1;
        if (i % 2 === 0) native.signalEventfd(efd); // OOM
        if (i % 3 === 0) rmSync(d.dir, { recursive: true }); // cgroup removed before its notification ran
        native.signalEventfd(efd);
        native.ready(efd);
        watcher.unwatch(`c${i}`);
      });
      assert.deepEqual(native.openFds(), []);
      for (const efd of efds) assert.equal(native.calls.filter(([name, fd]) => name === 'close' && fd === efd).length, 1, `eventfd ${efd}`);
      assert.equal(published.length, 20 - 7, 'an OOM for each container whose cgroup still existed');
    } finally {
      dirs.forEach((d) => d.cleanup());
    }
  });
});
