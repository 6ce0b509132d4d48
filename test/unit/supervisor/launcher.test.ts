/**
 * supervisor/shims/launcher.ts when the shim cannot even be spawned (spawn throws: here an id with a
 * NUL byte), or the second pipe cannot be made: every pipe end it made is closed — a daemon that
 * creates many containers must not leak two fds per failure.
 */
import assert from 'node:assert/strict';
import { runDelete, runStart, type ShimInvocation } from '../../../supervisor/shims/launcher';

function fakePipes(failAt?: number): { pipe: () => [number, number]; close: (fd: number) => void; open: Set<number> } {
  const open = new Set<number>();
  let next = 1000;
  let made = 0;
  return {
    open,
    pipe: () => {
      if (++made === failAt) throw Object.assign(new Error('pipe: too many open files'), { code: 'EMFILE' });
      const ends: [number, number] = [next++, next++];
      for (const fd of ends) open.add(fd);
      return ends;
    },
    close: (fd) => {
      assert.ok(open.delete(fd), `fd ${fd} closed twice, or not ours`);
    },
  };
}

const inv = (id: string): ShimInvocation => ({ binary: '/bin/true', namespace: 'ns', id, bundle: '/', address: '/nowhere.sock', publishBinary: '/bin/true', ttrpcAddress: '/nowhere.sock.ttrpc' });

describe('supervisor: the shim launcher on failure', () => {
  it('start: spawn throws — no pipe end left open', async () => {
    const native = fakePipes();
    await assert.rejects(runStart(inv('bad\0id'), new Uint8Array([1]), native));
    assert.deepEqual([...native.open], []);
  });

  it('start: the stdin pipe cannot be made — the output pipe is closed', async () => {
    const native = fakePipes(2);
    await assert.rejects(runStart(inv('c1'), new Uint8Array([1]), native), /too many open files/);
    assert.deepEqual([...native.open], []);
  });

  it('delete: spawn throws — no pipe end left open', async () => {
    const native = fakePipes();
    await assert.rejects(runDelete(inv('bad\0id'), native));
    assert.deepEqual([...native.open], []);
  });
});
