/**
 * The per-process ordering tools (STYLE A.2): OperationQueue runs lifecycle calls one at a time in
 * arrival order, whatever each one's outcome; Latch records a value once, synchronously.
 */
import assert from 'node:assert/strict';
import { Latch, OperationQueue } from '../../../shim/process/serial';
import { Deferred, flushMicrotasks } from './fakes';

describe('shim/process/serial: OperationQueue', () => {
  it('runs operations one at a time, in arrival order', async () => {
    const q = new OperationQueue();
    const log: string[] = [];
    const gates = [new Deferred(), new Deferred(), new Deferred()];
    let inFlight = 0;
    let maxInFlight = 0;
    const results = gates.map((gate, i) =>
      q.run(async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        log.push(`start ${i}`);
        await gate.promise;
        log.push(`end ${i}`);
        inFlight--;
        return i;
      }),
    );
    await flushMicrotasks();
    assert.deepEqual(log, ['start 0'], 'only the first runs');
    gates[2]?.resolve();
    gates[1]?.resolve();
    await flushMicrotasks();
    assert.deepEqual(log, ['start 0'], 'later gates opening first changes nothing');
    gates[0]?.resolve();
    assert.deepEqual(await Promise.all(results), [0, 1, 2]);
    assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    assert.equal(maxInFlight, 1);
  });

  it('a rejected operation does not block the next one, and its caller gets the rejection', async () => {
    const q = new OperationQueue();
    const first = q.run(() => Promise.reject(new Error('runc failed')));
    const second = q.run(() => Promise.resolve('ran'));
    await assert.rejects(first, /runc failed/);
    assert.equal(await second, 'ran');
  });

  it('an operation that throws synchronously is a rejection too', async () => {
    const q = new OperationQueue();
    const first = q.run((): Promise<void> => {
      throw new Error('refused');
    });
    const second = q.run(() => Promise.resolve(2));
    await assert.rejects(first, /refused/);
    assert.equal(await second, 2);
  });

  it('counts the operations enqueued and not settled', async () => {
    const q = new OperationQueue();
    assert.equal(q.pending, 0);
    const gate = new Deferred();
    const a = q.run(() => gate.promise);
    const b = q.run(() => Promise.reject(new Error('x')));
    const c = q.run(() => Promise.resolve());
    assert.equal(q.pending, 3);
    gate.resolve();
    await a;
    await assert.rejects(b);
    await c;
    await flushMicrotasks();
    assert.equal(q.pending, 0);
  });

  it('an operation enqueued from inside a running one runs after it (no re-entrancy)', async () => {
    const q = new OperationQueue();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    await q.run(async () => {
      inner = q.run(() => {
        log.push('inner');
        return Promise.resolve();
      });
      await flushMicrotasks();
      log.push('outer done');
    });
    await inner;
    assert.deepEqual(log, ['outer done', 'inner']);
  });
});

describe('shim/process/serial: Latch', () => {
  it('the first set wins; later sets are ignored and say so', () => {
    const l = new Latch<number>();
    assert.equal(l.done, false);
    assert.equal(l.current, undefined);
    assert.equal(l.set(1), true);
    assert.equal(l.set(2), false);
    assert.equal(l.done, true);
    assert.equal(l.current, 1);
  });

  it('resolves waiters registered before the set, synchronously released with the first value', async () => {
    const l = new Latch<string>();
    const waiters = [l.wait(), l.wait()];
    let settled = false;
    void Promise.all(waiters).then(() => (settled = true));
    await flushMicrotasks();
    assert.equal(settled, false);
    l.set('exit');
    l.set('other');
    assert.deepEqual(await Promise.all(waiters), ['exit', 'exit']);
  });

  it('resolves a waiter registered after the set at once', async () => {
    const l = new Latch<{ status: number }>();
    l.set({ status: 3 });
    assert.deepEqual(await l.wait(), { status: 3 });
  });

  it('can latch a falsy value', async () => {
    const l = new Latch<number>();
    l.set(0);
    assert.equal(l.done, true);
    assert.equal(await l.wait(), 0);
    assert.equal(l.set(5), false);
  });
});
