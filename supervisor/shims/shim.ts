/**
 * One live shim: a ttrpc-ts connection to its socket and the Task API over it, with a deadline per
 * call (Wait has none: it lasts as long as the process). Every failure comes out as an
 * ErrdefsError: the shim's status mapped by kind (containerd's FromGRPC), a lost connection as
 * Unavailable. `closed` resolves once the connection is gone, whoever closed it — the task manager
 * watches it to notice a shim that died.
 */
import { Client, ClosedError, Metadata, isRpcError, renameService } from 'ttrpc-ts';
import { ErrdefsError, fromStatus } from '../../proto/errdefs';
import { TASK_SERVICE_V3, TaskServiceDefinition, task, type wellKnown } from '../../proto/index';
import { socketPathOf } from './bootstrap';

/** Deadlines per call, ms. */
export const CALL_TIMEOUTS = {
  connect: 5_000,
  create: 60_000,
  start: 60_000,
  state: 5_000,
  kill: 10_000,
  exec: 10_000,
  delete: 30_000,
  shutdown: 3_000,
  pause: 10_000,
  update: 10_000,
  stats: 10_000,
  io: 5_000,
} as const;

/** How to reach a shim. */
export interface ShimAddress {
  readonly address: string;
  readonly version: 2 | 3;
}

type TaskStub = ReturnType<typeof stubOf>;

function stubOf(client: Client, version: 2 | 3) {
  return client.service(version === 3 ? renameService(TaskServiceDefinition, TASK_SERVICE_V3) : TaskServiceDefinition);
}

/** A connected shim. */
export class Shim {
  private readonly stub: TaskStub;
  /** Resolves when the connection has closed (shim exited, crashed, or we closed it). */
  readonly closed: Promise<void>;

  private constructor(
    private readonly client: Client,
    version: 2 | 3,
    private readonly namespace: string,
  ) {
    this.stub = stubOf(client, version);
    this.closed = new Promise((resolve) => client.once('close', () => resolve()));
    if (client.closed) this.closed = Promise.resolve();
  }

  /** Connects to the shim's socket; Unavailable when nothing answers within `timeoutMs`. */
  static async connect(where: ShimAddress, namespace: string, timeoutMs: number = CALL_TIMEOUTS.connect): Promise<Shim> {
    try {
      const client = await Client.connect(socketPathOf(where.address), { timeout: timeoutMs });
      client.unref();
      return new Shim(client, where.version, namespace);
    } catch (err) {
      throw new ErrdefsError('unavailable', `cannot connect to shim at ${where.address}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** True once the connection is gone. */
  get isClosed(): boolean {
    return this.client.closed;
  }

  /** Closes the connection (the shim keeps running). */
  close(): Promise<void> {
    return this.client.close();
  }

  connect(id: string): Promise<task.ConnectResponse> {
    return this.call('Connect', (o) => this.stub.connect(task.ConnectRequest.create({ id }), o), CALL_TIMEOUTS.connect);
  }

  create(request: task.CreateTaskRequest): Promise<task.CreateTaskResponse> {
    return this.call('Create', (o) => this.stub.create(request, o), CALL_TIMEOUTS.create);
  }

  start(id: string, execId = ''): Promise<task.StartResponse> {
    return this.call('Start', (o) => this.stub.start(task.StartRequest.create({ id, execId }), o), CALL_TIMEOUTS.start);
  }

  state(id: string, execId = ''): Promise<task.StateResponse> {
    return this.call('State', (o) => this.stub.state(task.StateRequest.create({ id, execId }), o), CALL_TIMEOUTS.state);
  }

  kill(id: string, signal: number, all: boolean, execId = ''): Promise<unknown> {
    return this.call('Kill', (o) => this.stub.kill(task.KillRequest.create({ id, execId, signal, all }), o), CALL_TIMEOUTS.kill);
  }

  exec(request: task.ExecProcessRequest): Promise<unknown> {
    return this.call('Exec', (o) => this.stub.exec(request, o), CALL_TIMEOUTS.exec);
  }

  /** Blocks until the process exits (no deadline; the connection closing ends it with Unavailable). */
  wait(id: string, execId = ''): Promise<task.WaitResponse> {
    return this.call('Wait', (o) => this.stub.wait(task.WaitRequest.create({ id, execId }), o), undefined);
  }

  pids(id: string): Promise<task.PidsResponse> {
    return this.call('Pids', (o) => this.stub.pids(task.PidsRequest.create({ id }), o), CALL_TIMEOUTS.state);
  }

  delete(id: string, execId = ''): Promise<task.DeleteResponse> {
    return this.call('Delete', (o) => this.stub.delete(task.DeleteRequest.create({ id, execId }), o), CALL_TIMEOUTS.delete);
  }

  pause(id: string): Promise<unknown> {
    return this.call('Pause', (o) => this.stub.pause(task.PauseRequest.create({ id }), o), CALL_TIMEOUTS.pause);
  }

  resume(id: string): Promise<unknown> {
    return this.call('Resume', (o) => this.stub.resume(task.ResumeRequest.create({ id }), o), CALL_TIMEOUTS.pause);
  }

  /** New resource limits: `resources` is an OCI LinuxResources Any. */
  update(id: string, resources: wellKnown.Any): Promise<unknown> {
    return this.call('Update', (o) => this.stub.update(task.UpdateTaskRequest.create({ id, resources }), o), CALL_TIMEOUTS.update);
  }

  /** The task's cgroup metrics (an Any: io.containerd.cgroups.v1.Metrics or v2). */
  stats(id: string): Promise<task.StatsResponse> {
    return this.call('Stats', (o) => this.stub.stats(task.StatsRequest.create({ id }), o), CALL_TIMEOUTS.stats);
  }

  resizePty(id: string, execId: string, width: number, height: number): Promise<unknown> {
    return this.call('ResizePty', (o) => this.stub.resizePty(task.ResizePtyRequest.create({ id, execId, width, height }), o), CALL_TIMEOUTS.io);
  }

  /** Closes the process's stdin (it reads EOF). */
  closeStdin(id: string, execId = ''): Promise<unknown> {
    return this.call('CloseIO', (o) => this.stub.closeIO(task.CloseIORequest.create({ id, execId, stdin: true }), o), CALL_TIMEOUTS.io);
  }

  /** Asks the shim to exit (it does once it has no task left). A closed connection counts as done. */
  async shutdown(id: string): Promise<void> {
    try {
      await this.call('Shutdown', (o) => this.stub.shutdown(task.ShutdownRequest.create({ id }), o), CALL_TIMEOUTS.shutdown);
    } catch (err) {
      if (!(err instanceof ErrdefsError && err.kind === 'unavailable')) throw err;
    }
  }

  private async call<T>(method: string, fn: (options: { timeout?: number; metadata: Metadata }) => Promise<T>, timeout: number | undefined): Promise<T> {
    const metadata = new Metadata({ 'containerd-namespace-ttrpc': this.namespace });
    try {
      return await fn(timeout === undefined ? { metadata } : { timeout, metadata });
    } catch (err) {
      if (isRpcError(err)) throw fromStatus(err.code, err.message);
      if (err instanceof ClosedError) throw new ErrdefsError('unavailable', `shim connection closed during ${method}`, { cause: err });
      throw err;
    }
  }
}
