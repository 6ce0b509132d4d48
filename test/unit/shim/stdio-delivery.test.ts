/**
 * shim/stdio/delivery.ts: the wait for output in flight — nothing when everything was delivered,
 * done as soon as it is, given up after `idleMs` without progress, kept up while bytes move (until
 * `maxMs`), woken by the end of the copies; FIONREAD failures count as nothing unread.
 */
import assert from 'node:assert/strict';
import { type Delivery, awaitDelivery, unreadInFifo } from '../../../shim/stdio/delivery';
import { type DeliveryOutcome } from '../../../shim/stdio/types';
import { Deferred } from './fakes';

/** A scripted delivery: tests move `moved`, `unread` and `over`, and count the looks. */
class Script implements Delivery {
  moved = 0;
  unreadBytes = 0;
  /** What the client has read from its FIFO so far. */
  readByClient = 0;
  readonly over = new Deferred();
  private isOver = false;
  looks = 0;

  constructor() {
    void this.over.promise.then(() => (this.isOver = true));
  }

  delivered(): boolean {
    this.looks++;
    return this.isOver && this.unreadBytes === 0;
  }
  progress(): string {
    return `${this.moved}/${this.unreadBytes}`;
  }
  unread(): number {
    return this.unreadBytes;
  }
  clientRead(): number {
    return this.readByClient;
  }
  copiesOver(): Promise<void> {
    return this.over.promise;
  }
}

describe('shim/stdio/delivery', () => {
  it('nothing in flight: undefined, decided at once', async () => {
    const d = new Script();
    d.over.resolve();
    await d.over.promise;
    assert.equal(awaitDelivery(d, { idleMs: 60_000, idleNoReaderMs: 60_000, maxMs: 60_000 }), undefined);
  });

  it('settles as soon as the copies end and the client has read everything', async () => {
    const d = new Script();
    d.unreadBytes = 10;
    const wait = awaitDelivery(d, { idleMs: 60_000, idleNoReaderMs: 60_000, maxMs: 60_000 });
    assert.ok(wait);
    d.over.resolve();
    d.unreadBytes = 0;
    assert.deepEqual(await wait, { delivered: true }); // only delivery can end this within the test's timeout
    assert.ok(d.delivered());
  });

  it('gives up once nothing moved for idleMs, with output still unread', async () => {
    const d = new Script();
    d.over.resolve();
    d.unreadBytes = 4096;
    const wait = awaitDelivery(d, { idleMs: 30, idleNoReaderMs: 30, maxMs: 60_000 });
    assert.ok(wait);
    const outcome = await wait;
    assert.equal(d.unreadBytes, 4096);
    assert.ok(!outcome.delivered && outcome.gaveUp === 'idle' && outcome.unread === 4096 && outcome.waitedMs >= 30, JSON.stringify(outcome));
  });

  it('gives a client that has read before idleMs to come back, and one that never read only idleNoReaderMs', async () => {
    const limits = { idleMs: 500, idleNoReaderMs: 30, maxMs: 60_000 };
    const waited = async (readByClient: number): Promise<DeliveryOutcome> => {
      const d = new Script();
      d.over.resolve();
      d.unreadBytes = 3;
      d.readByClient = readByClient;
      const wait = awaitDelivery(d, limits);
      assert.ok(wait);
      return wait;
    };
    const never = await waited(0); // a detached run: its client went away before reading anything
    assert.ok(!never.delivered && never.gaveUp === 'idle' && never.waitedMs >= 30 && never.waitedMs < 500, JSON.stringify(never));
    const stalled = await waited(65_536); // a reader that read and stopped: it may be back
    assert.ok(!stalled.delivered && stalled.gaveUp === 'idle' && stalled.waitedMs >= 500, JSON.stringify(stalled));
  });

  /** Waits for `d` (idleMs 40, maxMs 200) while a 2 ms ticker moves bytes; returns the ms it took and how it ended. */
  const waitWhileMoving = async (d: Script): Promise<{ ms: number; outcome: DeliveryOutcome }> => {
    d.unreadBytes = 1;
    const ticker = setInterval(() => d.moved++, 2); // progress far more often than idleMs, if the event loop runs
    const started = Date.now();
    try {
      const wait = awaitDelivery(d, { idleMs: 40, idleNoReaderMs: 40, maxMs: 200 });
      assert.ok(wait);
      const outcome = await wait;
      return { ms: Date.now() - started, outcome };
    } finally {
      clearInterval(ticker);
    }
  };

  it('keeps waiting while bytes move, beyond idleMs, and gives up at maxMs', async () => {
    const { ms, outcome } = await waitWhileMoving(new Script());
    assert.ok(ms >= 200, 'held past idleMs while bytes moved, until maxMs');
    assert.deepEqual(outcome.delivered === false && [outcome.gaveUp, outcome.unread], ['limit', 1]);
  });

  it('once the copies are over it waits on its timer, not in a microtask loop: the event loop runs and the client is seen reading', async () => {
    const d = new Script();
    d.over.resolve();
    await d.over.promise;
    assert.ok((await waitWhileMoving(d)).ms >= 200, 'the ticker kept it going until maxMs');
    assert.ok(d.looks < 100, `looked ${d.looks} times in 200 ms: a poll, not a spin`);
  });

  it('unreadInFifo: no fd is nothing unread, and so is a FIONREAD that fails', () => {
    assert.equal(unreadInFifo({ unreadBytes: () => 7 }, 3), 7);
    assert.equal(unreadInFifo({ unreadBytes: () => 7 }, undefined), 0);
    assert.equal(
      unreadInFifo(
        {
          unreadBytes: () => {
            throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
          },
        },
        3,
      ),
      0,
    );
  });
});
