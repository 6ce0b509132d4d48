/**
 * Unmounting a rootfs until it is not a mount point (PROTOCOL §4.3 step 3, §9.5): umount2 again
 * and again until EINVAL/ENOENT, EBUSY retried every 50 ms up to 50 times (fake timers), any other
 * error reported.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { unmountAll } from '../../../shim/container/mounts';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`umount2: ${code}`), { code });

describe('shim/container/mounts: unmountAll', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => (clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })));
  afterEach(() => {
    clock.restore();
    sinon.restore();
  });

  it('unmounts stacked mounts until the path is no mount point (EINVAL)', async () => {
    const umount2 = sinon.stub().onThirdCall().throws(errno('EINVAL'));
    await unmountAll({ umount2 }, '/b/rootfs');
    assert.equal(umount2.callCount, 3);
    assert.deepEqual(umount2.firstCall.args, ['/b/rootfs', 0]);
  });

  it('a missing path counts as unmounted (ENOENT)', async () => {
    const umount2 = sinon.stub().throws(errno('ENOENT'));
    await unmountAll({ umount2 }, '/gone');
    assert.equal(umount2.callCount, 1);
  });

  it('retries EBUSY every 50 ms', async () => {
    const umount2 = sinon.stub();
    umount2.onCall(0).throws(errno('EBUSY'));
    umount2.onCall(1).throws(errno('EBUSY'));
    umount2.onCall(2).returns(undefined);
    umount2.onCall(3).throws(errno('EINVAL'));
    const done = unmountAll({ umount2 }, '/b/rootfs');
    await clock.tickAsync(49);
    assert.equal(umount2.callCount, 1);
    await clock.tickAsync(51);
    await done;
    assert.equal(umount2.callCount, 4);
  });

  it('gives up after 50 EBUSY answers and reports EBUSY', async () => {
    const umount2 = sinon.stub().throws(errno('EBUSY'));
    const done = unmountAll({ umount2 }, '/b/rootfs').then(
      () => undefined,
      (e: unknown) => e,
    );
    await clock.tickAsync(50 * 50);
    const err = await done;
    assert.equal((err as NodeJS.ErrnoException).code, 'EBUSY');
    assert.equal(umount2.callCount, 50);
  });

  it('reports any other error at once', async () => {
    const umount2 = sinon.stub().throws(errno('EPERM'));
    await assert.rejects(unmountAll({ umount2 }, '/b/rootfs'), { code: 'EPERM' });
    assert.equal(umount2.callCount, 1);
  });
});
