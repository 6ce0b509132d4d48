/**
 * The Task API (containerd.task.v2.Task, also served as v3): finds the container, calls into the
 * domain, queues events, converts errors — once, here at the edge (STYLE B.6). No bookkeeping of
 * its own: exits live in exits.ts, state in the process classes.
 *
 * Ordering rules enforced here:
 * - lifecycle calls on one process run through its operation queue; Wait, State, Connect, Kill of
 *   an exec, ResizePty and CloseIO do not wait behind them;
 * - the create/start events are queued before the window of exits.ts ends, so a process's start
 *   event always precedes its exit event;
 * - Delete of an init publishes /tasks/delete after the container is gone from the map.
 */
import { type CallContext, RpcError } from 'ttrpc-ts';
import { type Native } from '../../native';
import { type TaskService as TaskApi, type task, type wellKnown, packMessage, runcOptions, toStatus, unpackJson, OCI_PROCESS_TYPE_URL, OCI_LINUX_RESOURCES_TYPE_URL } from '../../proto';
import { Container, checkIdentifier } from '../container/container';
import { type ExitTracker } from './exits';
import { type TaskEvents } from './events';
import { deleteResponse, stateResponse, waitResponse } from './responses';
import { type ProcessMonitor } from '../reaper';
import { ShimError } from '../util/errors';
import { type Logger, errorMessage } from '../util/log';
import { decodeCheckpointOptions } from './checkpoint';
import { type StatsProvider } from './stats';

export interface TaskServiceDeps {
  namespace: string;
  native: Native;
  monitor: ProcessMonitor;
  tracker: ExitTracker;
  events: TaskEvents;
  log: Logger;
  /** Called when Shutdown finds no container left. */
  onShutdown: () => void;
  stats: StatsProvider;
  /** Called when a container was created (OOM watching, …) and deleted. */
  onContainerCreated?: (c: Container) => void;
  /**
   * Called once a restored container's init runs (Create with a checkpoint had no process; runc
   * restore runs at Start), before its start event: its cgroup can be found only now.
   */
  onRestored?: (c: Container) => void;
  /** `clean`: the rootfs was unmounted (runc deleted the container, or knew it no more). */
  onContainerDeleted?: (c: Container, clean: boolean) => void;
  /**
   * Called as a container's init starts: holds its OOM events until the returned release, which
   * Start calls once the start event is queued (an OOM during `runc start` comes after it).
   */
  deferOom?: (containerId: string) => () => void;
}

const EMPTY: wellKnown.Empty = {};

/** The Task service of one shim daemon (one or a group of containers). */
export class TaskService implements TaskApi<CallContext> {
  private readonly containers = new Map<string, Container>();
  /** Ids being created (a concurrent Create of the same id is AlreadyExists). */
  private readonly creating = new Set<string>();

  constructor(private readonly deps: TaskServiceDeps) {}

  /** Containers held (for Shutdown and diagnostics). */
  get size(): number {
    return this.containers.size + this.creating.size;
  }

  /** Every container (shutdown releases their stdio). */
  all(): Container[] {
    return [...this.containers.values()];
  }

  private container(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw new ShimError('notFound', 'container not created');
    return c;
  }

  /** Runs a handler and converts whatever it throws to a wire status, once. */
  private async edge<T>(method: string, id: string, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const status = toStatus(err);
      this.deps.log.debug(`${method} failed`, { task: id, code: status.code, error: status.message });
      throw new RpcError(status.code, status.message, { cause: err });
    }
  }

  create(r: task.CreateTaskRequest): Promise<task.CreateTaskResponse> {
    return this.edge('Create', r.id, async () => {
      checkIdentifier('container id', r.id);
      if (this.containers.has(r.id) || this.creating.has(r.id)) throw new ShimError('alreadyExists', `container ${r.id}`);
      this.creating.add(r.id);
      const window = this.deps.tracker.beginCreate();
      let c: Container;
      try {
        c = await Container.create(
          {
            id: r.id,
            bundle: r.bundle,
            rootfs: r.rootfs.map((m) => ({ type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: [...(m.options ?? [])] })),
            stdio: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
            checkpoint: r.checkpoint,
            parentCheckpoint: r.parentCheckpoint,
            options: r.options ? { typeUrl: r.options.typeUrl ?? '', value: r.options.value ?? new Uint8Array(0) } : null,
          },
          { namespace: this.deps.namespace, native: this.deps.native, monitor: this.deps.monitor, warn: (message, fields) => this.deps.log.warn(message, fields) },
        );
      } catch (err) {
        window.cancel();
        throw err;
      } finally {
        this.creating.delete(r.id);
      }
      this.containers.set(r.id, c);
      this.deps.events.create(c, r.rootfs, r.checkpoint);
      window.end(c, c.init);
      this.deps.onContainerCreated?.(c);
      return { pid: c.init.pid };
    });
  }

  start(r: task.StartRequest): Promise<task.StartResponse> {
    return this.edge('Start', r.id, async () => {
      const c = this.container(r.id);
      const p = c.process(r.execId);
      return p.queue.run(async () => {
        if (p.role === 'exec' && this.deps.tracker.initExited(c)) {
          throw new ShimError('failedPrecondition', `container ${c.id} init process is not running`);
        }
        p.check('start');
        const restoring = p === c.init && c.init.state === 'createdCheckpoint';
        const window = this.deps.tracker.beginStart(c, p);
        const releaseOom = p === c.init ? this.deps.deferOom?.(c.id) : undefined;
        try {
          if (p === c.init) await c.init.start();
          else await c.exec(r.execId).start();
        } catch (err) {
          releaseOom?.();
          window.end(c, p);
          throw err;
        }
        if (restoring) this.restored(c);
        try {
          if (p === c.init) this.deps.events.start(c);
          else this.deps.events.execStarted(c, p);
        } finally {
          releaseOom?.(); // after the start event, before an exit the window collected
        }
        window.end(c, p);
        return { pid: p.pid };
      });
    });
  }

  /** onRestored, whose failure is no failed Start: the init runs. */
  private restored(c: Container): void {
    try {
      this.deps.onRestored?.(c);
    } catch (err) {
      this.deps.log.warn('could not watch the started container', { task: c.id, error: errorMessage(err) });
    }
  }

  state(r: task.StateRequest): Promise<task.StateResponse> {
    return this.edge('State', r.id, () => {
      const c = this.container(r.id);
      return stateResponse(c, c.process(r.execId));
    });
  }

  delete(r: task.DeleteRequest): Promise<task.DeleteResponse> {
    return this.edge('Delete', r.id, async () => {
      const c = this.container(r.id);
      if (r.execId) {
        const exec = c.exec(r.execId);
        await exec.queue.run(() => exec.delete());
        c.removeExec(r.execId);
        return deleteResponse(exec);
      }
      await c.init.queue.run(() => c.init.delete());
      this.containers.delete(c.id);
      this.deps.tracker.forget(c);
      c.releaseIO();
      let unmounted = true;
      try {
        await c.unmount();
      } catch (err) {
        unmounted = false;
        this.deps.log.warn('failed to unmount the rootfs', { task: c.id, error: errorMessage(err) });
      }
      this.deps.onContainerDeleted?.(c, unmounted);
      this.deps.events.delete(c);
      return deleteResponse(c.init);
    });
  }

  pids(r: task.PidsRequest): Promise<task.PidsResponse> {
    return this.edge('Pids', r.id, async () => {
      const c = this.container(r.id);
      let pids: number[];
      try {
        pids = await c.runc.ps(c.id);
      } catch (err) {
        throw new ShimError('unknown', `failed to list pids: ${errorMessage(err)}`);
      }
      const execByPid = new Map([...c.execs.values()].filter((e) => e.pid > 0).map((e) => [e.pid, e.id]));
      return {
        processes: pids.map((pid) => {
          const execId = execByPid.get(pid);
          return { pid, info: execId ? packMessage('containerd.runc.v1.ProcessDetails', runcOptions.ProcessDetails, { execId }) : null };
        }),
      };
    });
  }

  pause(r: task.PauseRequest): Promise<wellKnown.Empty> {
    return this.edge('Pause', r.id, async () => {
      const c = this.container(r.id);
      await c.init.queue.run(() => c.init.pause());
      this.deps.events.paused(c);
      return EMPTY;
    });
  }

  resume(r: task.ResumeRequest): Promise<wellKnown.Empty> {
    return this.edge('Resume', r.id, async () => {
      const c = this.container(r.id);
      await c.init.queue.run(() => c.init.resume());
      this.deps.events.resumed(c);
      return EMPTY;
    });
  }

  checkpoint(r: task.CheckpointTaskRequest): Promise<wellKnown.Empty> {
    return this.edge('Checkpoint', r.id, async () => {
      const c = this.container(r.id);
      const options = decodeCheckpointOptions(r.options ?? null);
      await c.init.queue.run(() => c.init.checkpoint(r.path, options));
      this.deps.events.checkpointed(c, r.path);
      return EMPTY;
    });
  }

  kill(r: task.KillRequest): Promise<wellKnown.Empty> {
    return this.edge('Kill', r.id, async () => {
      const c = this.container(r.id);
      if (r.execId) await c.exec(r.execId).kill(r.signal);
      else await c.init.kill(r.signal, r.all);
      return EMPTY;
    });
  }

  exec(r: task.ExecProcessRequest): Promise<wellKnown.Empty> {
    return this.edge('Exec', r.id, () => {
      const c = this.container(r.id);
      if (this.deps.tracker.initExited(c)) throw new ShimError('failedPrecondition', `container ${c.id} init process is not running`);
      const processJson = (): string => {
        let spec: Record<string, unknown>;
        try {
          const value = unpackJson(r.spec ?? {}, OCI_PROCESS_TYPE_URL);
          if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
          spec = value as Record<string, unknown>;
        } catch (err) {
          throw new ShimError('invalidArgument', `exec ${r.execId}: invalid process spec: ${errorMessage(err)}`);
        }
        spec['terminal'] = r.terminal; // the request decides, as in the Go shim
        return JSON.stringify(spec);
      };
      c.addExec(r.execId, processJson, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal });
      this.deps.events.execAdded(c, r.execId);
      return EMPTY;
    });
  }

  resizePty(r: task.ResizePtyRequest): Promise<wellKnown.Empty> {
    return this.edge('ResizePty', r.id, () => {
      this.container(r.id).process(r.execId).resize({ width: r.width, height: r.height });
      return EMPTY;
    });
  }

  closeIO(r: task.CloseIORequest): Promise<wellKnown.Empty> {
    return this.edge('CloseIO', r.id, () => {
      this.container(r.id).process(r.execId).closeIO();
      return EMPTY;
    });
  }

  update(r: task.UpdateTaskRequest): Promise<wellKnown.Empty> {
    return this.edge('Update', r.id, async () => {
      const c = this.container(r.id);
      let resources: unknown;
      try {
        resources = unpackJson(r.resources ?? {}, OCI_LINUX_RESOURCES_TYPE_URL);
        if (typeof resources !== 'object' || resources === null || Array.isArray(resources)) throw new Error('not a JSON object');
      } catch (err) {
        throw new ShimError('invalidArgument', `invalid resources: ${errorMessage(err)}`);
      }
      await c.init.queue.run(() => c.init.update(JSON.stringify(resources)));
      return EMPTY;
    });
  }

  wait(r: task.WaitRequest): Promise<task.WaitResponse> {
    return this.edge('Wait', r.id, async () => {
      const p = this.container(r.id).process(r.execId);
      await p.wait();
      return waitResponse(p);
    });
  }

  stats(r: task.StatsRequest): Promise<task.StatsResponse> {
    return this.edge('Stats', r.id, async () => {
      const c = this.container(r.id);
      return { stats: await this.deps.stats.stats({ id: c.id, pid: c.init.pid }) };
    });
  }

  connect(r: task.ConnectRequest): Promise<task.ConnectResponse> {
    return this.edge('Connect', r.id, () => ({ shimPid: process.pid, taskPid: this.containers.get(r.id)?.init.pid ?? 0, version: '' }));
  }

  shutdown(r: task.ShutdownRequest): Promise<wellKnown.Empty> {
    return this.edge('Shutdown', r.id, () => {
      if (this.size === 0) this.deps.onShutdown();
      return EMPTY;
    });
  }
}
