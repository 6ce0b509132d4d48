import assert from 'node:assert/strict';
import { FakeNative } from '../../../native/fake';

describe('native/fake', () => {
  it('simulates children, exits and pidfd readiness', () => {
    const n = new FakeNative();
    n.addChild(42);
    assert.equal(n.waitPid(42), null);
    const pidfd = n.pidfdOpen(42);
    let fired = 0;
    const w = n.watchFd(pidfd, () => fired++);
    n.exitChild(42, 137, 9);
    assert.equal(fired, 1);
    assert.deepEqual(n.waitPid(42, { peek: true }), { pid: 42, status: 137, signal: 9 });
    assert.deepEqual(n.waitPidfd(pidfd), { pid: 42, status: 137, signal: 9 });
    assert.throws(() => n.waitPid(42), { code: 'ECHILD' });
    w.close();
    n.close(pidfd);
    assert.deepEqual(n.openFds(), []);
  });

  it('counts eventfd signals and reports EAGAIN as null', () => {
    const n = new FakeNative();
    const fd = n.eventfd();
    assert.equal(n.readEventfd(fd), null);
    n.signalEventfd(fd, 2n);
    assert.equal(n.readEventfd(fd), 2n);
    assert.throws(() => n.close(12345), { code: 'EBADF' });
  });
});
