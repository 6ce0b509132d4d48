import assert from 'node:assert/strict';
import { validateEnvelope, validateTopic } from '../../../supervisor/events/envelope';
import { decodeForward } from '../../../supervisor/events/forward-service';
import { eventsApi, packEvent } from '../../../proto/index';
import { nowTimestamp, zeroTimestamp } from '../../../proto/time';
import { i64 } from '../../../proto/long';
import { isIdentifier, validateIdentifier } from '../../../supervisor/util/identifiers';

describe('supervisor/events: forwarded envelopes validated as containerd does', () => {
  const good = (): eventsApi.Envelope.$Properties => ({ timestamp: nowTimestamp(), namespace: 'tsrunc', topic: '/tasks/exit', event: packEvent('/tasks/exit', { containerId: 'c1', id: 'c1', pid: 7, exitStatus: 3 }) });

  it('accepts a valid envelope and decodes its task event', () => {
    const e = decodeForward(eventsApi.ForwardRequest.create({ envelope: good() }));
    assert.equal(e.topic, '/tasks/exit');
    assert.equal(e.decoded?.topic, '/tasks/exit');
    assert.equal(e.decoded?.topic === '/tasks/exit' ? e.decoded.event.exitStatus : -1, 3);
  });

  it('refuses a bad namespace, a bad topic and a zero timestamp with InvalidArgument', () => {
    const cases: [Partial<eventsApi.Envelope.$Properties>, RegExp][] = [
      [{ namespace: '' }, /^event envelope has invalid namespace: identifier must not be empty: invalid argument$/],
      [{ namespace: 'bad ns' }, /invalid namespace: identifier "bad ns" must match/],
      [{ namespace: 'x'.repeat(77) }, /greater than maximum length \(76 characters\)/],
      [{ topic: 'tasks/exit' }, /envelope topic "tasks\/exit": must start with '\/'/],
      [{ topic: '/' }, /must have at least one component/],
      [{ topic: '/tasks//exit' }, /failed validation on component "": identifier must not be empty/],
      [{ topic: '/tasks/ex it' }, /failed validation on component "ex it"/],
      [{ timestamp: null }, /^timestamp must be set on forwarded event: invalid argument$/],
      [{ timestamp: zeroTimestamp() }, /timestamp must be set on forwarded event/],
    ];
    for (const [change, message] of cases) {
      assert.throws(() => validateEnvelope({ ...good(), ...change }), (err: { kind?: string; message?: string }) => err.kind === 'invalidArgument' && message.test(err.message ?? ''), JSON.stringify(change));
    }
    assert.throws(() => validateEnvelope(null), { kind: 'invalidArgument' });
  });

  it('1970 is a real time (only Go zero time is "unset")', () => {
    assert.doesNotThrow(() => validateEnvelope({ ...good(), timestamp: { seconds: i64(0), nanos: 1 } }));
  });

  it('passes unknown event types on raw', () => {
    const e = decodeForward(eventsApi.ForwardRequest.create({ envelope: { ...good(), topic: '/images/create', event: { typeUrl: 'containerd.events.ImageCreate', value: new Uint8Array([10, 1, 97]) } } }));
    assert.equal(e.decoded, undefined);
    assert.equal(e.raw?.typeUrl, 'containerd.events.ImageCreate');
  });

  it('knows containerd identifiers', () => {
    for (const ok of ['a', 'tsrunc', 'a.b-c_d', 'A9']) assert.ok(isIdentifier(ok), ok);
    for (const bad of ['', '-a', 'a-', 'a..b', 'a b', 'é']) assert.ok(!isIdentifier(bad), bad);
    assert.throws(() => validateIdentifier('a..b'), { kind: 'invalidArgument' });
    assert.doesNotThrow(() => validateTopic('/containers/create'));
  });
});
