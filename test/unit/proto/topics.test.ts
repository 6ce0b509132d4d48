import assert from 'node:assert/strict';
import * as protobuf from 'protobufjs';
import { TASK_EVENTS, TOPICS, eventByTopic, eventByTypeUrl, isTaskTopic, packEvent, unpackEvent, zeroTimestamp, isZero, toBigInt } from '../../../proto';
import { bundleRoot, toHex } from './fixtures';

/** PROTOCOL §8.2, verbatim. */
const EXPECTED: [string, string][] = [
  ['/tasks/create', 'containerd.events.TaskCreate'],
  ['/tasks/start', 'containerd.events.TaskStart'],
  ['/tasks/exit', 'containerd.events.TaskExit'],
  ['/tasks/delete', 'containerd.events.TaskDelete'],
  ['/tasks/oom', 'containerd.events.TaskOOM'],
  ['/tasks/exec-added', 'containerd.events.TaskExecAdded'],
  ['/tasks/exec-started', 'containerd.events.TaskExecStarted'],
  ['/tasks/paused', 'containerd.events.TaskPaused'],
  ['/tasks/resumed', 'containerd.events.TaskResumed'],
  ['/tasks/checkpointed', 'containerd.events.TaskCheckpointed'],
];

describe('proto/topics', () => {
  it('maps every topic of PROTOCOL §8.2 to its bare type URL', () => {
    assert.deepEqual(TASK_EVENTS.map((e) => [e.topic, e.typeUrl]), EXPECTED);
    for (const e of TASK_EVENTS) {
      assert.equal(TOPICS[e.name], e.topic);
      assert.equal(e.typeUrl, `containerd.events.${e.name}`);
      assert.equal(eventByTopic(e.topic), e);
      assert.equal(eventByTypeUrl(e.typeUrl), e);
      assert.ok(isTaskTopic(e.topic));
    }
    assert.equal(Object.keys(TOPICS).length, TASK_EVENTS.length);
    assert.equal(eventByTopic('/tasks/nope'), undefined);
    assert.ok(!isTaskTopic('/containers/create'));
  });

  it('covers every message of containerd.events except TaskIO (part of TaskCreate)', () => {
    const ns = bundleRoot('shim').lookup('containerd.events');
    assert.ok(ns instanceof protobuf.Namespace);
    const messages = ns.nestedArray.filter((o) => o instanceof protobuf.Type).map((o) => `containerd.events.${o.name}`);
    assert.deepEqual(messages.filter((m) => m !== 'containerd.events.TaskIO').sort(), EXPECTED.map(([, url]) => url).sort());
  });

  it('packs and unpacks every event', () => {
    const exit = packEvent('/tasks/exit', { containerId: 'c1', id: 'e1', pid: 7, exitStatus: 137, exitedAt: zeroTimestamp() });
    assert.equal(exit.typeUrl, 'containerd.events.TaskExit');
    const back = unpackEvent(exit, '/tasks/exit');
    assert.equal(back.topic, '/tasks/exit');
    if (back.topic !== '/tasks/exit') throw new Error('unreachable');
    assert.deepEqual([back.event.containerId, back.event.id, back.event.pid, back.event.exitStatus], ['c1', 'e1', 7, 137]);
    assert.ok(isZero(back.event.exitedAt));
    for (const e of TASK_EVENTS) {
      const any = packEvent(e.topic, { containerId: 'x' });
      assert.equal(toHex(any.value), '0a 01 78');
      const u = unpackEvent(any);
      assert.equal(u.topic, e.topic);
      assert.equal(u.event.containerId, 'x');
    }
    const del = unpackEvent(packEvent('/tasks/delete', { exitedAt: zeroTimestamp() }));
    assert.ok(del.topic === '/tasks/delete');
    assert.equal(toBigInt(del.event.pid), 0n);
    assert.ok(isZero(del.event.exitedAt));
  });

  it('refuses unknown types and mismatched topics', () => {
    assert.throws(() => unpackEvent({ typeUrl: 'containerd.events.Nope', value: new Uint8Array() }), /not a task event type/);
    assert.throws(() => unpackEvent(packEvent('/tasks/start', {}), '/tasks/exit'), /published on \/tasks\/start, not \/tasks\/exit/);
    assert.throws(() => packEvent('/tasks/nope' as '/tasks/start', {}), /not a task topic/);
  });
});
