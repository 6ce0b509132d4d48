/**
 * The generated service stubs against ttrpc-ts: the interface and ttrpc's ServiceImplementation are
 * mutually assignable (checked by tsc — this file does not compile otherwise), and a definition works
 * end to end through a real ttrpc-ts server and client.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Client,
  Server,
  renameService,
  type CallContext,
  type CallOptions,
  type MethodDefinition,
  type ServiceClient,
  type ServiceDefinition,
  type ServiceImplementation,
} from 'ttrpc-ts';
import {
  EventsServiceDefinition,
  TASK_SERVICE_V2,
  TASK_SERVICE_V3,
  EVENTS_SERVICE,
  TaskServiceDefinition,
  Status,
  task,
  zeroTimestamp,
  type EventsService,
  type MethodDescriptor,
  type wellKnown,
  type TaskService,
  type TaskServiceMethods,
} from '../../../proto';
import { methodKey } from '../../../proto/codegen/service-stubs';

// ── type level ───────────────────────────────────────────────────────────────────────────────────
/** true when A and B are assignable to each other. */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only when T is exactly `true`. */
function typeCheck<T extends true>(_proof: T): void {}

interface SomeContext {
  readonly tag: 'ctx';
}

typeCheck<Mutual<ServiceImplementation<typeof TaskServiceDefinition, SomeContext>, TaskService<SomeContext>>>(true);
typeCheck<Mutual<ServiceImplementation<typeof TaskServiceDefinition, CallContext>, TaskService<CallContext>>>(true);
typeCheck<Mutual<ServiceImplementation<typeof EventsServiceDefinition, CallContext>, EventsService<CallContext>>>(true);
typeCheck<Mutual<ServiceImplementation<typeof TaskServiceDefinition, undefined>, TaskService<undefined>>>(true);
// A ttrpc client stub can stand where the interface is expected (its options parameter is optional).
typeCheck<ServiceClient<typeof TaskServiceDefinition, CallOptions> extends TaskService<CallOptions | undefined> ? true : false>(true);
// The definition is a ServiceDefinition and each method a MethodDefinition of the decoded types.
const asDefinition: ServiceDefinition<TaskServiceMethods> = TaskServiceDefinition;
const stateMethod: MethodDefinition<task.StateRequest, task.StateResponse> = TaskServiceDefinition.methods.state;

// ── runtime ──────────────────────────────────────────────────────────────────────────────────────
const TASK_METHODS = [
  'State', 'Create', 'Start', 'Delete', 'Pids', 'Pause', 'Resume', 'Checkpoint', 'Kill',
  'Exec', 'ResizePty', 'CloseIO', 'Update', 'Wait', 'Stats', 'Connect', 'Shutdown',
];

describe('proto/gen/services', () => {
  it('describes containerd.task.v2.Task with its 17 methods under lowerCamel keys', () => {
    assert.equal(asDefinition.name, TASK_SERVICE_V2);
    assert.deepEqual(Object.keys(TaskServiceDefinition.methods), TASK_METHODS.map(methodKey));
    const methods = Object.values(TaskServiceDefinition.methods) as MethodDescriptor<unknown, unknown>[];
    assert.deepEqual(methods.map((m) => m.name), TASK_METHODS);
    assert.deepEqual(TASK_METHODS.map(methodKey).slice(10, 12), ['resizePty', 'closeIO']);
    assert.equal(stateMethod.name, 'State');
  });

  it('describes the events service with forward', () => {
    assert.equal(EventsServiceDefinition.name, EVENTS_SERVICE);
    assert.deepEqual(Object.keys(EventsServiceDefinition.methods), ['forward']);
    assert.equal(EventsServiceDefinition.methods.forward.name, 'Forward');
  });

  it('wraps the static classes as codecs', () => {
    const { requestType, responseType } = TaskServiceDefinition.methods.wait;
    const req = requestType.decode(requestType.encode(task.WaitRequest.create({ id: 'c1', execId: 'e1' })));
    assert.deepEqual([req.id, req.execId], ['c1', 'e1']);
    const res = responseType.decode(responseType.encode(task.WaitResponse.create({ exitStatus: 3, exitedAt: zeroTimestamp() })));
    assert.equal(res.exitStatus, 3);
    assert.equal(TaskServiceDefinition.methods.kill.responseType.encode({}).length, 0);
  });

  it('serves the v2 definition under the v3 name through ttrpc-ts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proto-svc-'));
    const socket = path.join(dir, 's');
    const calls: string[] = [];
    const impl: Partial<TaskService<CallContext>> = {
      state: (req, ctx) => {
        calls.push(`${ctx.service}/${ctx.method} ${req.id}`);
        return Promise.resolve(task.StateResponse.create({ id: req.id, pid: 42, status: Status.RUNNING, exitedAt: zeroTimestamp() }));
      },
      kill: () => Promise.resolve({}),
    };
    const full = Object.fromEntries(
      Object.keys(TaskServiceDefinition.methods).map((k) => [k, impl[k as keyof TaskService<CallContext>] ?? (() => Promise.reject(new Error('unused')))]),
    ) as unknown as TaskService<CallContext>;
    const server = new Server();
    server.register(TaskServiceDefinition, full).register(renameService(TaskServiceDefinition, TASK_SERVICE_V3), full);
    await server.listen({ path: socket });
    const client = await Client.connect(socket);
    try {
      for (const definition of [TaskServiceDefinition, renameService(TaskServiceDefinition, TASK_SERVICE_V3)]) {
        const stub: TaskService<CallOptions | undefined> = client.service(definition);
        const state = await stub.state(task.StateRequest.create({ id: 'c1' }), undefined);
        assert.deepEqual([state.id, state.pid, state.status], ['c1', 42, Status.RUNNING]);
        const empty: wellKnown.Empty = await stub.kill(task.KillRequest.create({ id: 'c1', signal: 9 }), undefined);
        assert.deepEqual({ ...empty }, {});
      }
      assert.deepEqual(calls, ['containerd.task.v2.Task/State c1', 'containerd.task.v3.Task/State c1']);
    } finally {
      await client.close();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
