/**
 * The splice copier's state machine (shim/stdio/splice-copy.ts) against a scripted native layer:
 * which side it waits on after each EAGAIN, back-pressure (source watch stopped while the
 * destination is full), EOF closing both ends, EPIPE and EINVAL, the no-spin safety net, close().
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { SpliceCopy } from '../../../shim/stdio/splice-copy';
import { StdioFakeNative } from '../../fixtures/stdio-fakes';

describe('stdio/splice-copy: state machine', () => {
  let native: StdioFakeNative;
  let src: number;
  let dst: number;

  beforeEach(() => {
    native = new StdioFakeNative();
    src = native.adopt();
    dst = native.adopt();
  });

  it('starts by watching the source for readable, and nothing else', () => {
    const copy = new SpliceCopy(native, src, dst);
    assert.deepEqual(native.interest(src), { readable: true, writable: false });
    assert.equal(native.interest(dst), undefined);
    assert.equal(copy.waitingOn, 'source');
    assert.equal(native.spliceCalls, 0, 'no splice before readiness');
    copy.close();
  });

  it('moves data on readable and keeps waiting on the source after EAGAIN that follows progress', () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [4096, 100, null];
    native.emit(src, { readable: true });
    assert.equal(copy.moved, 4196);
    assert.equal(copy.waitingOn, 'source');
    assert.deepEqual(native.interest(src), { readable: true, writable: false });
    copy.close();
  });

  it('destination full (EAGAIN without progress on readable): stops the source watch and waits for writable', () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [null];
    native.emit(src, { readable: true });
    assert.equal(copy.waitingOn, 'destination');
    assert.deepEqual(native.interest(src), { readable: false, writable: false }, 'back-pressure: source not watched');
    assert.deepEqual(native.interest(dst), { readable: false, writable: true });
    // writable: moves again, then the source is empty (EAGAIN without progress) → back to the source
    native.spliceScript = [65536, null];
    native.emit(dst, { writable: true });
    assert.equal(copy.moved, 65536);
    assert.equal(copy.waitingOn, 'destination', 'moved then EAGAIN: keeps waiting on the side that woke it');
    native.spliceScript = [null];
    native.emit(dst, { writable: true });
    assert.equal(copy.waitingOn, 'source', 'woken by the destination, nothing moved: the source is empty');
    assert.deepEqual(native.interest(dst), { readable: false, writable: false });
    assert.deepEqual(native.interest(src), { readable: true, writable: false });
    copy.close();
  });

  it('ignores a late event for the side it stopped watching', () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [null];
    native.emit(src, { readable: true });
    const calls = native.spliceCalls;
    assert.equal(native.emitAny(src, { readable: true }), 1, 'a stale event reaches the stopped watch');
    assert.equal(native.spliceCalls, calls);
    copy.close();
  });

  it('yields after a bounded number of splices per wake-up (level-triggered readiness brings it back)', () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = Array.from({ length: 100 }, () => 1);
    native.emit(src, { readable: true });
    assert.ok(native.spliceCalls < 100 && native.spliceCalls > 1, `${native.spliceCalls} calls in one wake-up`);
    assert.equal(copy.waitingOn, 'source');
    copy.close();
  });

  it('EOF (splice returns 0): closes the destination and the source, resolves eof', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [10, 0];
    native.emit(src, { readable: true });
    assert.deepEqual(await copy.done, { kind: 'eof', bytes: 10 });
    const closes = native.calls.filter((c) => c[0] === 'close').map((c) => c[1]);
    assert.deepEqual(closes.slice(-2), [dst, src], 'destination first, then source');
    assert.equal(native.watchCount(src), 0);
    assert.equal(copy.waitingOn, undefined);
  });

  it('EPIPE on the destination: stops and closes both', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [{ throw: 'EPIPE' }];
    native.emit(src, { readable: true });
    assert.deepEqual(await copy.done, { kind: 'destinationClosed', bytes: 0 });
    assert.deepEqual(native.openFds(), []);
  });

  it('a watch error (no flags) makes it try, so the error surfaces through splice', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [null];
    native.emit(src, { readable: true }); // now waiting on the destination
    native.spliceScript = [{ throw: 'EPIPE' }];
    assert.equal(native.emitAny(dst), 1); // POLLERR: libuv reports an error status and no flags
    assert.equal((await copy.done).kind, 'destinationClosed');
  });

  it('EINVAL: hands both fds back unclosed so the caller can fall back to streams', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [{ throw: 'EINVAL' }];
    native.emit(src, { readable: true });
    const outcome = await copy.done;
    assert.equal(outcome.kind, 'unsupported');
    assert.deepEqual(native.openFds().sort(), [src, dst].sort());
    assert.equal(native.watchCount(src), 0);
  });

  it('other errors end the copy with the error and close both', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [{ throw: 'EIO' }];
    native.emit(src, { readable: true });
    const outcome = await copy.done;
    assert.equal(outcome.kind, 'error');
    assert.deepEqual(native.openFds(), []);
  });

  it('never spins: wake-ups that move nothing on both sides fall back to a timer', () => {
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const copy = new SpliceCopy(native, src, dst);
      let wakeups = 0;
      for (let i = 0; i < 20 && copy.waitingOn !== 'timer'; i++) {
        wakeups++;
        native.emit(copy.waitingOn === 'source' ? src : dst, { readable: true, writable: true });
      }
      assert.equal(copy.waitingOn, 'timer');
      assert.ok(wakeups <= 4, `${wakeups} idle wake-ups before backing off`);
      assert.equal(native.emit(src, { readable: true }) + native.emit(dst, { writable: true }), 0, 'no watch armed while backing off');
      clock.tick(10);
      assert.equal(copy.waitingOn, 'source');
      native.spliceScript = [5, 0];
      native.emit(src, { readable: true });
      assert.equal(copy.waitingOn, undefined);
    } finally {
      clock.restore();
    }
  });

  it('close(): idempotent, closes each fd once, and resolves closed', async () => {
    const copy = new SpliceCopy(native, src, dst);
    native.spliceScript = [7, null];
    native.emit(src, { readable: true });
    copy.close();
    copy.close();
    assert.deepEqual(await copy.done, { kind: 'closed', bytes: 7 });
    assert.equal(native.calls.filter((c) => c[0] === 'close' && (c[1] === src || c[1] === dst)).length, 2);
    assert.deepEqual(native.openFds(), []);
  });
});
