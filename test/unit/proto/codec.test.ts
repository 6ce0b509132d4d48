import assert from 'node:assert/strict';
import * as cgroupsGen from '../../../proto/gen/cgroups';
import * as shimGen from '../../../proto/gen/shim';
import {
  U64_MAX,
  eventsApi,
  isU64Max,
  isZero,
  packEvent,
  rpc,
  task,
  taskTypes,
  toBigInt,
  toNumber,
  wellKnown,
  zeroTimestamp,
} from '../../../proto';
import { bundleRoot, canonical, fromHex, messageTypes, sampleMessage, staticClass, toHex } from './fixtures';

describe('proto/gen codecs', () => {
  for (const [bundle, module] of [
    ['shim', shimGen],
    ['cgroups', cgroupsGen],
  ] as const) {
    describe(`every message of the ${bundle} bundle`, () => {
      for (const type of messageTypes(bundleRoot(bundle))) {
        it(`${type.fullName.slice(1)} round-trips with every field set, byte-identical to protobufjs reflection`, () => {
          const cls = staticClass(module, type.fullName);
          const sample = sampleMessage(type);
          const bytes = cls.encode(sample).finish();
          assert.equal(toHex(bytes), toHex(type.encode(sample).finish()));
          assert.deepEqual(canonical(cls.decode(bytes)), canonical(sample));
          // The default message encodes to nothing (proto3: zero values are omitted, as Go does).
          assert.equal(cls.encode({}).finish().length, 0);
        });
      }
    });
  }

  it('covers every request and response of the Task service', () => {
    const service = bundleRoot('shim').lookupService('containerd.task.v2.Task');
    const types = new Set(messageTypes(bundleRoot('shim')).map((t) => t.fullName));
    assert.equal(service.methodsArray.length, 17);
    for (const m of service.methodsArray) {
      assert.ok(types.has(m.resolvedRequestType?.fullName ?? '?'), m.name);
      assert.ok(types.has(m.resolvedResponseType?.fullName ?? '?'), m.name);
    }
  });
});

describe('proto wire vectors (PROTOCOL §4.4, §6.8, §6.9, §7.5)', () => {
  it("encodes Go's zero time as 08 80 92 b8 c3 98 fe ff ff ff 01", () => {
    assert.equal(toHex(wellKnown.Timestamp.encode(zeroTimestamp()).finish()), '08 80 92 b8 c3 98 fe ff ff ff 01');
    const back = wellKnown.Timestamp.decode(fromHex('08 80 92 b8 c3 98 fe ff ff ff 01'));
    assert.equal(toBigInt(back.seconds), -62135596800n);
    assert.ok(isZero(back));
  });

  it("decodes the shim's delete output exactly (pid 8398, status 137)", () => {
    const bytes = '08 ce 41 10 89 01 1a 0c 08 98 93 8d d8 06 10 c5 c2 d4 c5 01';
    const res = task.DeleteResponse.decode(fromHex(bytes));
    assert.equal(res.pid, 8398);
    assert.equal(res.exitStatus, 137);
    assert.equal(toNumber(res.exitedAt?.seconds), 1795377560);
    assert.equal(res.exitedAt?.nanos, 414523717);
    assert.equal(toHex(task.DeleteResponse.encode(res).finish()), bytes);
  });

  it('decodes the missing-pid-file form (pid 4294967295)', () => {
    const res = task.DeleteResponse.decode(fromHex('08 ff ff ff ff 0f 10 89 01'));
    assert.equal(res.pid, 4294967295);
    assert.equal(res.exitStatus, 137);
  });

  it('round-trips the observed PidsResponse 0a 03 08 ce 41', () => {
    const res = task.PidsResponse.decode(fromHex('0a 03 08 ce 41'));
    assert.equal(res.processes.length, 1);
    assert.equal(res.processes[0]?.pid, 8398);
    const built = task.PidsResponse.encode({ processes: [taskTypes.ProcessInfo.create({ pid: 8398 })] }).finish();
    assert.equal(toHex(built), '0a 03 08 ce 41');
  });

  it('matches the Connect request and reply payloads', () => {
    assert.equal(toHex(task.ConnectRequest.encode({ id: 'rx1' }).finish()), '0a 03 72 78 31');
    const reply = task.ConnectResponse.decode(fromHex('08 d5 da 01 10 f1 da 01'));
    assert.deepEqual([reply.shimPid, reply.taskPid, reply.version], [27989, 28017, '']);
  });

  it('rebuilds the observed Forward of /tasks/start byte for byte', () => {
    const observed =
      '0a 4c 0a 0b 08 a1 f3 8c d8 06 10 bf d9 fd 62 12 05 72 73 72 63 68 1a 0c 2f 74 61 73 6b 73 2f 73 74 61 72 74 ' +
      '22 28 0a 1b 63 6f 6e 74 61 69 6e 65 72 64 2e 65 76 65 6e 74 73 2e 54 61 73 6b 53 74 61 72 74 12 09 0a 03 72 78 33 10 d8 e3 01';
    const decoded = eventsApi.ForwardRequest.decode(fromHex(observed));
    const rebuilt = eventsApi.ForwardRequest.encode({
      envelope: {
        timestamp: decoded.envelope?.timestamp ?? null,
        namespace: 'rsrch',
        topic: '/tasks/start',
        event: packEvent('/tasks/start', { containerId: 'rx3', pid: 29144 }),
      },
    }).finish();
    assert.equal(toHex(rebuilt), observed);
  });

  it('decodes the status of an error reply (NOT_FOUND container not created: not found)', () => {
    const status = rpc.Status.decode(fromHex(`08 05 12 20 ${toHex(Buffer.from('container not created: not found'))}`));
    assert.equal(status.code, 5);
    assert.equal(status.message, 'container not created: not found');
    assert.deepEqual(status.details, []);
  });

  it('round-trips uint64 2^64−1 (cgroup v2 "max") exactly', () => {
    const { PidsStat } = cgroupsGen.io.containerd.cgroups.v2;
    const bytes = PidsStat.encode({ limit: U64_MAX }).finish();
    assert.equal(toHex(bytes), '10 ff ff ff ff ff ff ff ff ff 01');
    const back = PidsStat.decode(bytes);
    assert.equal(toBigInt(back.limit), (1n << 64n) - 1n);
    assert.ok(isU64Max(back.limit));
    assert.throws(() => toNumber(back.limit), RangeError);
  });
});
