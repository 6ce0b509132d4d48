/**
 * The ordered outbound event queue (shim/events/queue.ts, PROTOCOL §8.1, §8.3) under sinon fake
 * timers: one send at a time in publish order, the head retried after 1 s, 2 s, … capped at 5 s,
 * refused events dropped and reported, a bounded backlog, drain and close for shutdown.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { EventQueue, type EventQueueOptions, type OutgoingEvent } from '../../../shim/events/queue';
import { Deferred, flushMicrotasks } from './fakes';

/** One turn of the event loop (the sender starts in setImmediate), and the microtasks after it. */
async function turn(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await flushMicrotasks();
}

class Refused extends Error {}
class Answered extends Error {}

interface Harness {
  queue: EventQueue;
  /** Topics in the order send was called, with the fake clock time of each call. */
  sends: { topic: string; at: number }[];
  drops: { topic: string; why: string }[];
  /** How each send ends: set per call number (0-based); default resolves at once. */
  outcome: (n: number, event: OutgoingEvent) => Promise<void>;
}

describe('shim/events/queue', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => clock.restore());

  function harness(options: Partial<EventQueueOptions> = {}, withIsPermanent = true): Harness {
    const h: Harness = {
      queue: undefined as unknown as EventQueue,
      sends: [],
      drops: [],
      outcome: () => Promise.resolve(),
    };
    h.queue = new EventQueue({
      send: (event) => {
        const n = h.sends.length;
        h.sends.push({ topic: event.topic, at: Date.now() });
        return h.outcome(n, event);
      },
      ...(withIsPermanent ? { isPermanent: (err: unknown) => err instanceof Refused } : {}),
      onDrop: (event, why) => h.drops.push({ topic: event.topic, why }),
      ...options,
    });
    return h;
  }

  const publish = (h: Harness, ...topics: string[]): void => {
    for (const topic of topics) h.queue.publish(topic, 'containerd.events.TaskExit', new Uint8Array([1]), 123n);
  };

  it('hands the sender the event as published', async () => {
    const seen: OutgoingEvent[] = [];
    const queue = new EventQueue({ send: (e) => (seen.push(e), Promise.resolve()) });
    queue.publish('/tasks/exit', 'containerd.events.TaskExit', new Uint8Array([8, 1]), 1795377560414523717n);
    await turn();
    assert.deepEqual(seen, [{ topic: '/tasks/exit', typeUrl: 'containerd.events.TaskExit', value: new Uint8Array([8, 1]), timestamp: 1795377560414523717n }]);
  });

  it('starts sending after the callbacks of this turn: the answer that caused the event leaves first', async () => {
    const h = harness();
    publish(h, '/tasks/exec-added');
    await flushMicrotasks(); // a handler's answer is written in these
    assert.equal(h.sends.length, 0, 'nothing on the wire before the turn ends');
    await turn();
    assert.deepEqual(h.sends.map((s) => s.topic), ['/tasks/exec-added']);
  });

  it('an event published and the queue closed in the same turn is dropped, not sent', async () => {
    const h = harness();
    publish(h, '/tasks/exit');
    h.queue.close();
    await turn();
    assert.equal(h.sends.length, 0);
    assert.deepEqual(h.drops, [{ topic: '/tasks/exit', why: 'the shim is shutting down' }]);
  });

  it('sends one event at a time, in publish order, never blocking the publisher', async () => {
    const h = harness();
    const gates = [new Deferred(), new Deferred(), new Deferred()];
    let inFlight = 0;
    let maxInFlight = 0;
    h.outcome = async (n) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await gates[n]?.promise;
      inFlight--;
    };
    publish(h, '/tasks/create', '/tasks/start', '/tasks/exit');
    assert.equal(h.queue.pending, 3, 'publish returned at once');
    await turn();
    assert.deepEqual(h.sends.map((s) => s.topic), ['/tasks/create']);
    gates[0]?.resolve();
    await turn();
    assert.deepEqual(h.sends.map((s) => s.topic), ['/tasks/create', '/tasks/start']);
    gates[1]?.resolve();
    gates[2]?.resolve();
    await turn();
    assert.deepEqual(h.sends.map((s) => s.topic), ['/tasks/create', '/tasks/start', '/tasks/exit']);
    assert.equal(maxInFlight, 1);
    assert.equal(h.queue.pending, 0);
  });

  it('retries the head after 1 s, 2 s, 3 s, 4 s, 5 s, 5 s … keeping the order', async () => {
    const h = harness();
    h.outcome = (n) => (n < 7 ? Promise.reject(new Error('connection refused')) : Promise.resolve());
    publish(h, '/tasks/exit', '/tasks/delete');
    await clock.tickAsync(60_000);
    const gaps = h.sends.slice(1).map((s, i) => s.at - (h.sends[i]?.at ?? 0));
    assert.deepEqual(gaps.slice(0, 7), [1000, 2000, 3000, 4000, 5000, 5000, 5000]);
    assert.deepEqual(
      h.sends.map((s) => s.topic),
      [...Array<string>(8).fill('/tasks/exit'), '/tasks/delete'],
      'the second event waits behind the head',
    );
    assert.equal(gaps[7], 0, 'the next event goes at once after a success');
    assert.deepEqual(h.drops, [], 'never dropped for being late');
  });

  it('starts the backoff again at 1 s for the next failing event', async () => {
    const h = harness();
    const fail = new Set([0, 2]);
    h.outcome = (n) => (fail.has(n) ? Promise.reject(new Error('EPIPE')) : Promise.resolve());
    publish(h, 'a', 'b');
    await clock.tickAsync(10_000);
    assert.deepEqual(
      h.sends.map((s) => [s.topic, s.at - 1_000_000]),
      [
        ['a', 0],
        ['a', 1000],
        ['b', 1000],
        ['b', 2000],
      ],
    );
  });

  it('drops an event containerd refuses (permanent error), reports it, and goes on at once', async () => {
    const h = harness();
    h.outcome = (n) => (n === 0 ? Promise.reject(new Refused('timestamp must be set on forwarded event')) : Promise.resolve());
    publish(h, '/tasks/bad', '/tasks/next');
    await turn();
    assert.deepEqual(h.drops, [{ topic: '/tasks/bad', why: 'containerd refused it: timestamp must be set on forwarded event' }]);
    assert.deepEqual(h.sends.map((s) => [s.topic, s.at]), [
      ['/tasks/bad', 1_000_000],
      ['/tasks/next', 1_000_000],
    ]);
  });

  it('drops an event containerd keeps failing (answered errors) after maxAnsweredAttempts, then sends the next: one event cannot hold back a TaskExit', async () => {
    const h = harness({ isAnswered: (err) => err instanceof Answered, maxAnsweredAttempts: 3 });
    h.outcome = (_n, event) => (event.topic === '/tasks/stuck' ? Promise.reject(new Answered('internal error')) : Promise.resolve());
    publish(h, '/tasks/stuck', '/tasks/exit');
    await clock.tickAsync(10_000);
    assert.deepEqual(h.sends.map((s) => [s.topic, s.at - 1_000_000]), [
      ['/tasks/stuck', 0],
      ['/tasks/stuck', 1000],
      ['/tasks/stuck', 3000],
      ['/tasks/exit', 3000],
    ]);
    assert.deepEqual(h.drops, [{ topic: '/tasks/stuck', why: 'containerd failed it 3 times: internal error' }]);
  });

  it('counts answered errors per event: a head the bound dropped during a backoff leaves the next head a full count', async () => {
    const h = harness({ isAnswered: (err) => err instanceof Answered, maxAnsweredAttempts: 3, maxQueued: 2 });
    h.outcome = (_n, event) => (event.topic === '/tasks/exit' && h.sends.filter((s) => s.topic === '/tasks/exit').length > 2 ? Promise.resolve() : Promise.reject(new Answered('internal error')));
    publish(h, '/tasks/stuck');
    await clock.tickAsync(1500); // stuck: failed twice, waits out its backoff
    publish(h, '/tasks/exit', '/tasks/other'); // past the bound: stuck (not on the wire) is dropped
    await clock.tickAsync(30_000);
    assert.deepEqual(h.sends.filter((s) => s.topic === '/tasks/exit').length, 3, 'the exit had its own two failures, then went');
    assert.deepEqual(h.drops, [
      { topic: '/tasks/stuck', why: 'more than 2 events waiting' },
      { topic: '/tasks/other', why: 'containerd failed it 3 times: internal error' },
    ]);
  });

  it('retries an unreachable containerd without a bound (the events wait for it), answered errors or not between', async () => {
    const h = harness({ isAnswered: (err) => err instanceof Answered, maxAnsweredAttempts: 2 });
    // down for 10 attempts, then one answered error, then delivered
    h.outcome = (n) => (n < 10 ? Promise.reject(new Error('ECONNREFUSED')) : n === 10 ? Promise.reject(new Answered('x')) : Promise.resolve());
    publish(h, '/tasks/exit');
    await clock.tickAsync(120_000);
    assert.equal(h.sends.length, 12);
    assert.deepEqual(h.drops, []);
    assert.equal(h.queue.pending, 0);
  });

  it('without isPermanent every error is retried', async () => {
    const h = harness({}, false);
    h.outcome = (n) => (n === 0 ? Promise.reject(new Refused('x')) : Promise.resolve());
    publish(h, 'a');
    await clock.tickAsync(1000);
    assert.deepEqual(h.sends.map((s) => s.topic), ['a', 'a']);
    assert.deepEqual(h.drops, []);
  });

  it('bounds the backlog: past maxQueued the oldest event is dropped and reported', async () => {
    const h = harness({ maxQueued: 3 });
    h.outcome = () => Promise.reject(new Error('containerd is down'));
    publish(h, 'e1');
    await turn(); // e1 failed once, waits out its backoff
    publish(h, 'e2', 'e3', 'e4', 'e5');
    assert.deepEqual(h.drops, [
      { topic: 'e1', why: 'more than 3 events waiting' },
      { topic: 'e2', why: 'more than 3 events waiting' },
    ]);
    assert.equal(h.queue.pending, 3);
    h.outcome = () => Promise.resolve();
    await clock.tickAsync(1000);
    assert.deepEqual(h.sends.map((s) => s.topic), ['e1', 'e3', 'e4', 'e5']);
  });

  // Regression (found by this test, fixed in shim/events/queue.ts publish): the overflow drops queue[0] even while it is being sent;
  // when that send then succeeds the event reached containerd but was reported as dropped.
  it('an event delivered while the backlog overflowed is not reported as dropped', async () => {
    const h = harness({ maxQueued: 2 });
    const gate = new Deferred();
    h.outcome = (n) => (n === 0 ? gate.promise : Promise.resolve());
    publish(h, 'e1');
    await turn();
    publish(h, 'e2', 'e3');
    gate.resolve();
    await turn();
    assert.ok(!h.drops.some((d) => d.topic === 'e1'), `e1 was delivered: ${JSON.stringify(h.drops)}`);
  });

  describe('drain', () => {
    it('resolves true at once when nothing is queued', async () => {
      const h = harness();
      assert.equal(await h.queue.drain(1000), true);
    });

    it('resolves true once everything queued was sent', async () => {
      const h = harness();
      const gate = new Deferred();
      h.outcome = (n) => (n === 0 ? gate.promise : Promise.resolve());
      publish(h, 'a', 'b');
      let result: boolean | undefined;
      void h.queue.drain(10_000).then((r) => (result = r));
      await turn();
      assert.equal(result, undefined);
      gate.resolve();
      await turn();
      assert.equal(result, true);
      assert.deepEqual(h.sends.map((s) => s.topic), ['a', 'b']);
    });

    it('cuts a pending backoff short: the head is retried at once', async () => {
      const h = harness();
      h.outcome = (n) => (n === 0 ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve());
      publish(h, 'a');
      await turn();
      assert.equal(h.sends.length, 1, 'waiting out a 1 s backoff');
      const drained = h.queue.drain(10_000);
      await turn();
      assert.equal(await drained, true);
      assert.deepEqual(h.sends.map((s) => [s.topic, s.at]), [
        ['a', 1_000_000],
        ['a', 1_000_000],
      ]);
    });

    it('resolves false when the timeout passes first', async () => {
      const h = harness();
      h.outcome = () => new Promise<void>(() => undefined); // containerd never answers
      publish(h, 'a');
      let result: boolean | undefined;
      void h.queue.drain(500).then((r) => (result = r));
      await clock.tickAsync(499);
      assert.equal(result, undefined);
      await clock.tickAsync(1);
      assert.equal(result, false);
    });
  });

  describe('close', () => {
    it('drops and reports what is still queued, then refuses new events', async () => {
      const h = harness();
      h.outcome = () => Promise.reject(new Error('down'));
      publish(h, 'a', 'b');
      await turn();
      h.queue.close();
      assert.deepEqual(h.drops, [
        { topic: 'a', why: 'the shim is shutting down' },
        { topic: 'b', why: 'the shim is shutting down' },
      ]);
      assert.equal(h.queue.pending, 0);
      publish(h, 'late');
      assert.deepEqual(h.drops.at(-1), { topic: 'late', why: 'the event queue is closed' });
      await clock.tickAsync(30_000);
      assert.equal(h.sends.length, 1, 'no retry after close');
      h.queue.close(); // idempotent
      assert.equal(h.drops.length, 3);
    });

    it('stops after an in-flight send settles', async () => {
      const h = harness();
      const gate = new Deferred();
      h.outcome = (n) => (n === 0 ? gate.promise : Promise.resolve());
      publish(h, 'a', 'b');
      await turn();
      h.queue.close();
      gate.resolve();
      await clock.tickAsync(10_000);
      assert.deepEqual(h.sends.map((s) => s.topic), ['a']);
    });

    it('a send that fails after close leaves no backoff timer behind', async () => {
      const h = harness();
      const gate = new Deferred();
      h.outcome = () => gate.promise;
      publish(h, 'a');
      await turn();
      h.queue.close();
      gate.reject(new Error('down'));
      await flushMicrotasks();
      assert.equal(clock.countTimers(), 0);
    });

    // Regression (found by this test, fixed in shim/events/queue.ts close): a drain waiting when close drops events resolves true,
    // i.e. "everything was sent", although the events were dropped.
    it('a drain pending when close drops events resolves false', async () => {
      const h = harness();
      h.outcome = () => Promise.reject(new Error('down'));
      publish(h, 'a');
      await turn();
      const drained = h.queue.drain(60_000);
      h.queue.close();
      assert.equal(await drained, false);
    });
  });
});
