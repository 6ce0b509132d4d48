/**
 * Container semantics over shim-v2 tasks, keeping the records in step:
 *
 *   create → start → (running) → exit → the task is deleted and its shim let go → stopped → remove
 *
 * Ordering rules (enforced here):
 *   - every lifecycle operation on one container runs in its queue (util/keyed-queue.ts), one at a time;
 *   - exits are applied synchronously (applyExit), whichever way they are learnt first — the shim's
 *     /tasks/exit event, our background Wait, the shim's State at restart, or `delete` of a dead shim —
 *     and only once; the teardown that follows is queued;
 *   - a record is saved (durably) before the step it announces is relied on: `creating` before
 *     `start`, the shim's bootstrap before Create, `removing` before anything is removed.
 */
import { rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ErrdefsError } from '../../proto/errdefs';
import type { TaskEvent, task } from '../../proto/index';
import { fromTimestamp } from '../../proto/time';
import type { Native } from '../../native';
import type { DaemonConfig } from '../config';
import type { Exchange, SupervisorEvent } from '../events/exchange';
import type { ForwardedEvent } from '../events/forward-service';
import { ensureBundle, removeBundle } from '../shims/bundle';
import { deleteResultOf } from '../shims/launcher';
import { removeEmptyCgroupParents } from '../shims/cgroups';
import type { ShimManager } from '../shims/manager';
import type { Shim } from '../shims/shim';
import type { Store } from '../store/store';
import { type ContainerRecord, hasTask } from '../store/types';
import { KeyedQueue } from '../util/keyed-queue';
import { type Logger, errorMessage } from '../util/log';
import { pauseTask, resumeTask, statsOf, updateTask } from './control';
import { type CreateSpec, createContainer, launchTask, undoCreate } from './create';
import { backoffMs, formatRestartPolicy, nextStreak, shouldRestart } from './restart-policy';
import { type ExecControl, type ExecResult, type ExecSink, type ExecSpec, runExec } from './exec';
import { recoverOne } from './recovery';
import { DeleteEvents } from './delete-events';
import { ExitLatches } from './exit-latch';
import type { ExitInfo, TaskInternals } from './internals';
import type { ResourceLimits } from '../shims/resources';
import type { StatsFigures } from './stats';
import { StdinFifos } from './stdin';
import { type TaskStdio, stdioOf } from './stdio';

/** SIGTERM then, after the stop timeout, SIGKILL. */
const SIGTERM = osConstants.signals.SIGTERM;
const SIGKILL = osConstants.signals.SIGKILL;
/** How long a SIGKILLed task may take to be reported exited. */
const KILL_WAIT_MS = 10_000;
/** Teardowns of an exited task, the first one's retry after TEARDOWN_RETRY_MS, each next one's after twice the last's. */
const TEARDOWN_ATTEMPTS = 5;
const TEARDOWN_RETRY_MS = 1_000;
/** How long a teardown waits for the shim's /tasks/delete before publishing its own (delete-events.ts). */
const DELETE_EVENT_WAIT_MS = 2_000;

/** The task manager. */
export class TaskManager implements TaskInternals {
  readonly queue = new KeyedQueue();
  readonly exits = new ExitLatches();
  private readonly deletes = new DeleteEvents();
  readonly stdins: StdinFifos;
  /** Restarts waiting for their backoff, by container id. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Teardowns waiting for their retry (finishExit), by container id: `stop` leaves them, `rm` ends them. */
  private readonly teardownRetries = new Map<string, NodeJS.Timeout>();
  /** The daemon is stopping (quiesce): a shim connection closing now is ours closing it, not the shim dying. */
  private closing = false;

  constructor(
    readonly config: DaemonConfig,
    readonly store: Store,
    readonly shims: ShimManager,
    readonly exchange: Exchange,
    readonly log: Logger,
    readonly native: Pick<Native, 'mkfifo'>,
  ) {
    this.stdins = new StdinFifos(native);
  }

  /** Creates a container (and its task); starts it too when `start`. */
  async create(spec: CreateSpec, start: boolean): Promise<ContainerRecord> {
    const record = await createContainer(this, spec);
    return start ? this.start(record.id) : record;
  }

  /** Starts a created container. */
  start(ref: string): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, () => this.startLocked(id));
  }

  private async startLocked(id: string): Promise<ContainerRecord> {
    const record = this.store.get(id);
    if (record.status !== 'created') throw new ErrdefsError('failedPrecondition', `container ${record.name} is ${record.status}: only a created container can be started`);
    const shim = this.requireShim(record);
    this.exits.reset(id);
    const asked = Date.now();
    const response = await shim.start(id);
    this.store.update(id, (r) => {
      // this task's start time, never the last run's (a restart policy's backoff measures the run
      // from it): the shim's /tasks/start, often before Start's answer, may have set it already;
      // also when the exit was applied while Start was in flight
      if (r.startedAt === undefined || Date.parse(r.startedAt) < asked) r.startedAt = new Date(asked).toISOString();
      if (r.status !== 'created') return;
      r.status = 'running';
      r.pid = response.pid;
    });
    this.watchExit(id, shim);
    return this.store.get(id);
  }

  /** Signals the container's init (`all`: every process of the container). */
  kill(ref: string, signal: number, all: boolean): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, async () => {
      const record = this.store.get(id);
      await this.signal(record, signal, all);
      return record;
    });
  }

  /** SIGTERM, then SIGKILL after `timeoutSeconds`; resolves once the container is stopped. */
  stop(ref: string, timeoutSeconds: number): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    this.endRestarts(id);
    return this.queue.run(id, async () => {
      this.endRestarts(id);
      const record = this.store.get(id);
      if (!hasTask(record.status)) return record;
      const exited = record.status === 'running' && (await this.signalQuietly(record, SIGTERM, false)) && (await this.waitExit(id, timeoutSeconds * 1000));
      if (!exited && !(await this.exitOfLostShim(id))) {
        await this.signalQuietly(record, SIGKILL, true);
        if (!(await this.waitExit(id, KILL_WAIT_MS)) && !(await this.exitOfLostShim(id))) {
          throw new ErrdefsError('deadlineExceeded', `container ${record.name} did not stop after SIGKILL`);
        }
      }
      const stopped = this.store.get(id);
      await this.teardownTask(stopped);
      if (stopped.autoRemove) return this.removeLocked(id, true);
      return stopped;
    });
  }

  /** Resolves once the container is stopped (at once if it is), with its record. */
  async wait(ref: string): Promise<ContainerRecord> {
    const record = this.store.resolve(ref);
    if (record.status === 'creating' || hasTask(record.status)) await this.exits.wait(record.id);
    return this.store.find(record.id) ?? record;
  }

  /** Removes a stopped container; with `force` a running one is killed first. */
  remove(ref: string, force: boolean): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, async () => {
      const manualStop = this.store.get(id).manualStop;
      if (force) this.endRestarts(id);
      try {
        return await this.removeLocked(id, force);
      } catch (err) {
        // the container stays: so does its restart policy (a task that would not die, still running)
        if (force && this.store.find(id) !== undefined) {
          this.store.update(id, (r) => {
            r.manualStop = manualStop;
          });
        }
        throw err;
      }
    });
  }

  /**
   * Runs a process in a running container, its output to `sink`. Not queued: execs run beside the
   * container's lifecycle, as with containerd (a container that stops ends them).
   */
  exec(ref: string, spec: ExecSpec, sink: ExecSink, controls?: AsyncIterable<ExecControl>): Promise<ExecResult> {
    const record = this.store.resolve(ref);
    if (record.status !== 'running') throw new ErrdefsError('failedPrecondition', `container ${record.name} is not running`);
    if (record.paused === true) throw new ErrdefsError('failedPrecondition', `container ${record.name} is paused: resume it first`);
    return runExec(this.requireShim(record), record, this.native, spec, sink, controls);
  }

  /** Freezes a running container. */
  pause(ref: string): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, () => {
      const record = this.store.get(id);
      return pauseTask(this, this.requireShimOf(record, 'pause'), record);
    });
  }

  /** Thaws a paused container. */
  resume(ref: string): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, () => {
      const record = this.store.get(id);
      return resumeTask(this, this.requireShimOf(record, 'resume'), record);
    });
  }

  /** Changes the resource limits of a running container. */
  update(ref: string, change: ResourceLimits): Promise<ContainerRecord> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, () => {
      const record = this.store.get(id);
      return updateTask(this, this.requireShimOf(record, 'update'), record, change);
    });
  }

  /** One stats sample of each container in `refs` (every running one when empty). */
  async stats(refs: readonly string[]): Promise<{ record: ContainerRecord; figures: StatsFigures }[]> {
    const records = refs.length === 0 ? this.list(false) : refs.map((ref) => this.store.resolve(ref));
    return Promise.all(records.map(async (record) => ({ record, figures: await statsOf(this.requireShimOf(record, 'read the stats of'), record) })));
  }

  /** Input, EOF and window sizes for the init of a created or running container (attach). */
  stdio(ref: string): TaskStdio {
    const record = this.store.resolve(ref);
    if (!hasTask(record.status)) throw new ErrdefsError('failedPrecondition', `cannot attach to container ${record.name}: it is ${record.status}`);
    return stdioOf(this, this.requireShim(record), record);
  }

  /** Removes the container once it has stopped (now, if it has): `run --rm` detached from. */
  removeWhenStopped(ref: string): Promise<void> {
    const { id } = this.store.resolve(ref);
    return this.queue.run(id, async () => {
      const record = this.store.find(id);
      if (record === undefined) return;
      this.store.update(id, (r) => {
        (r as { autoRemove: boolean }).autoRemove = true;
      });
      if (record.status === 'stopped') await this.removeLocked(id, false);
    });
  }

  /** Containers: running ones, or all. */
  list(all: boolean): ContainerRecord[] {
    return this.store.list().filter((r) => all || r.status === 'running' || r.restartAt !== undefined);
  }

  /** One container. */
  inspect(ref: string): ContainerRecord {
    return this.store.resolve(ref);
  }

  /** A validated event from a shim: apply it to the records, then publish it (in this order). */
  onForwarded(event: ForwardedEvent): void {
    const decoded = event.decoded;
    const containerId = decoded?.event.containerId ?? '';
    const record = this.store.find(containerId);
    // a task delete the supervisor already published for this shim (it was late): dropped
    if (decoded?.topic === '/tasks/delete' && (decoded.event.id === '' || decoded.event.id === containerId) && !this.deletes.arrived(containerId, decoded.event.pid, record !== undefined)) return;
    if (decoded !== undefined && record !== undefined && record.namespace === event.namespace) this.apply(record, decoded);
    this.exchange.publish(toSupervisorEvent(event, decoded, record?.name ?? ''));
  }

  /** At daemon start: bring every record back in step with its shim (recover.ts decides). */
  async recover(): Promise<void> {
    await Promise.all(this.store.list().map((r) => this.queue.run(r.id, () => recoverOne(this, r.id)).catch((err: unknown) => this.log.error('recovery failed', { id: r.id, err: errorMessage(err) }))));
    // restarts that were waiting for their backoff, or half done, when the daemon went down
    for (const r of this.store.list()) {
      if (r.restartAt === undefined) continue;
      if (r.status === 'stopped') this.scheduleRestart(r.id, Math.max(0, Date.parse(r.restartAt) - Date.now()));
      else if (r.status === 'created') void this.queue.run(r.id, () => this.finishRestart(r.id)).catch((err: unknown) => this.log.error('restart failed', { id: r.id, err: errorMessage(err) }));
      else if (r.status === 'running') {
        this.store.update(r.id, (x) => {
          x.restartAt = undefined;
        });
      }
    }
  }

  /**
   * The daemon begins to stop: no restart or teardown retry starts any more, and a shim connection
   * that closes is not taken for a dead shim (the daemon closes them all: shutdown). What is left
   * undone, recovery finishes at the next start.
   */
  quiesce(): void {
    this.closing = true;
    for (const timer of [...this.restartTimers.values(), ...this.teardownRetries.values()]) clearTimeout(timer);
    this.restartTimers.clear();
    this.teardownRetries.clear();
  }

  /** Daemon shutdown: close shim connections; containers and shims keep running. */
  async shutdown(): Promise<void> {
    this.quiesce();
    await this.shims.closeAll();
  }

  // ── TaskInternals ─────────────────────────────────────────────────────────────────────────────

  applyExit(id: string, exit: ExitInfo): boolean {
    const record = this.store.find(id);
    if (record === undefined || !hasTask(record.status)) return false;
    try {
      this.store.update(id, (r) => {
        r.status = 'stopped';
        r.paused = undefined;
        r.exitStatus = exit.status;
        r.exitedAt = exit.at.toISOString();
        if (exit.pid !== undefined && exit.pid !== 0) r.pid = exit.pid;
        if (exit.reason !== undefined) r.error = exit.reason;
      });
    } catch (err) {
      // the record has the exit in memory (Store.update), not on disk (a full disk): the exit still
      // goes on — waiters, the teardown, the policy — and the next write saves it
      this.log.error('could not save an exit', { id, err: errorMessage(err) });
    }
    this.log.info('task exited', { id, name: record.name, status: exit.status });
    if (exit.publish === true) {
      for (const topic of ['/tasks/exit', '/tasks/delete']) this.exchange.publish(ownEvent(topic, record, { pid: record.pid, exitStatus: exit.status, exitedAt: exit.at }));
    }
    this.exits.fire(id);
    this.finishExit(id, 1);
    return true;
  }

  /**
   * After an exit, in the queue: the task's teardown, then --rm or the restart policy. A teardown
   * that fails (the shim's Delete or Shutdown erred or timed out) is tried again, backing off, up
   * to TEARDOWN_ATTEMPTS times; meanwhile and after, the container's error says so (ps, inspect).
   */
  private finishExit(id: string, attempt: number): void {
    void this.queue
      .run(id, async () => {
        const current = this.store.find(id);
        if (current === undefined || current.status !== 'stopped') return;
        try {
          await this.teardownTask(current);
        } catch (err) {
          const again = attempt < TEARDOWN_ATTEMPTS;
          this.log.error('task teardown failed', { id, attempt, again, err: errorMessage(err) });
          this.store.update(id, (r) => {
            r.error = `task teardown failed${again ? ' (trying again)' : ''}: ${errorMessage(err)}`;
          });
          if (again && !this.closing) {
            const retry = setTimeout(() => {
              this.teardownRetries.delete(id);
              this.finishExit(id, attempt + 1);
            }, TEARDOWN_RETRY_MS * 2 ** (attempt - 1));
            this.teardownRetries.set(id, retry);
          }
          return;
        }
        if (attempt > 1) {
          this.store.update(id, (r) => {
            if (r.error?.startsWith('task teardown failed') === true) r.error = undefined;
          });
        }
        if (current.autoRemove) await this.removeLocked(id, true);
        else this.considerRestart(id);
      })
      .catch((err: unknown) => this.log.error('task teardown failed', { id, err: errorMessage(err) }));
  }

  watchExit(id: string, shim: Shim): void {
    shim.wait(id).then(
      (r) => {
        try {
          this.applyExit(id, { status: r.exitStatus, at: fromTimestamp(r.exitedAt) });
        } catch (err) {
          // nothing that goes wrong in recording an exit may end the daemon (an unhandled rejection)
          this.log.error('could not apply an exit', { id, err: errorMessage(err) });
        }
      },
      (err: unknown) => this.log.debug('wait ended without an exit', { id, err: errorMessage(err) }),
    );
  }

  async teardownTask(record: ContainerRecord): Promise<void> {
    this.stdins.forget(record.id);
    if (record.shim === undefined) {
      // a launch that failed before the record named its shim may have opened the log FIFO
      await this.shims.release(record.id);
      return;
    }
    const shim = this.shims.get(record.id);
    if (shim !== undefined) {
      this.shims.releasing(record.id);
      const deleted = await shim.delete(record.id).catch((err: unknown) => {
        if (err instanceof ErrdefsError && err.kind === 'notFound') return undefined; // deleted already
        // (while the daemon stops, the connection closing is ours: the shim lives, recovery finishes this)
        if (err instanceof ErrdefsError && err.kind === 'unavailable' && !this.closing) return 'shim died' as const;
        throw err;
      });
      if (deleted === 'shim died') {
        // during Delete: what it may have left (runc's state, the rootfs mount, its socket) goes
        // with the shim's `delete` action, as for any dead shim; its delete event is ours to send,
        // unless it came (an earlier attempt's Delete did its work)
        const result = await this.shims.cleanupDead(record);
        if (!this.deletes.came(record.id, record.pid)) {
          this.publishOwnDelete(record, { pid: record.pid, exitStatus: record.exitStatus ?? result.exitStatus, exitedAt: record.exitedAt === undefined ? result.exitedAt : new Date(record.exitedAt) });
        }
      } else {
        await shim.shutdown(record.id);
        await this.shims.release(record.id);
        if (deleted !== undefined) await this.settleDeleteEvent(record, deleted);
      }
    } else {
      await this.shims.cleanupDead(record);
    }
    this.store.update(record.id, (r) => {
      r.shim = undefined;
    });
  }

  async removeLocked(id: string, force: boolean): Promise<ContainerRecord> {
    const record = this.store.get(id);
    if (hasTask(record.status)) {
      if (!force) throw new ErrdefsError('failedPrecondition', `cannot remove container ${record.name}: it is ${record.status}; stop it first or use --force`);
      await this.signalQuietly(record, SIGKILL, true);
      if (!(await this.waitExit(id, KILL_WAIT_MS)) && !(await this.exitOfLostShim(id))) {
        // removing it anyway would leave a task running with no record able to stop it (a process
        // in uninterruptible sleep, a shim that does not answer): the container stays, as it is
        throw new ErrdefsError('deadlineExceeded', `cannot remove container ${record.name}: its task did not exit within ${KILL_WAIT_MS / 1000} s of SIGKILL; try again`);
      }
    }
    if (record.status === 'creating') {
      await undoCreate(this, record);
      return record;
    }
    this.store.update(id, (r) => {
      r.status = 'removing';
    });
    await this.teardownTask(this.store.get(id));
    removeBundle(record.bundle);
    rmSync(record.logDir, { recursive: true, force: true });
    this.store.remove(id);
    clearTimeout(this.restartTimers.get(id));
    this.restartTimers.delete(id);
    clearTimeout(this.teardownRetries.get(id));
    this.teardownRetries.delete(id);
    this.exits.forget(id);
    this.deletes.forget(id);
    this.publishContainerEvent('/containers/delete', record);
    if (!this.store.list().some((r) => r.namespace === record.namespace && (r.status === 'creating' || hasTask(r.status)))) removeEmptyCgroupParents(record.namespace);
    return record;
  }

  publishContainerEvent(topic: string, record: ContainerRecord): void {
    this.exchange.publish(ownEvent(topic, record, {}));
  }

  // ── restart policies ──────────────────────────────────────────────────────────────────────────

  /** After a stopped task was torn down (in the queue): schedule its restart if its policy asks. */
  considerRestart(id: string): void {
    const delay = this.planRestart(id);
    if (delay !== undefined) this.scheduleRestart(id, delay);
  }

  /**
   * Records the restart a stopped task's policy asks for (`restartAt`, the backoff streak) without
   * arming its timer; returns the delay, or undefined when the policy says no.
   */
  planRestart(id: string): number | undefined {
    const record = this.store.find(id);
    if (record === undefined || record.status !== 'stopped' || !shouldRestart(record, record.exitStatus ?? 0)) return undefined;
    const streak = nextStreak(record);
    const delay = backoffMs(streak);
    this.store.update(id, (r) => {
      r.restartStreak = streak;
      r.restartAt = new Date(Date.now() + delay).toISOString();
    });
    this.log.info('restart scheduled', { id, name: record.name, policy: formatRestartPolicy(record.restartPolicy), inMs: delay, exitStatus: record.exitStatus });
    return delay;
  }

  private scheduleRestart(id: string, delayMs: number): void {
    clearTimeout(this.restartTimers.get(id));
    this.restartTimers.set(
      id,
      setTimeout(() => {
        this.restartTimers.delete(id);
        this.queue.run(id, () => this.restartLocked(id)).catch((err: unknown) => this.log.error('restart failed', { id, err: errorMessage(err) }));
      }, delayMs),
    );
  }

  /** The due restart: a new shim and task on the same bundle and logs, started. */
  private async restartLocked(id: string): Promise<void> {
    const record = this.store.find(id);
    if (record === undefined || record.status !== 'stopped' || record.restartAt === undefined || record.manualStop === true) return;
    // restartAt stays set until the new task runs: a daemon that dies in between finishes the
    // restart when it comes back (recover)
    this.store.update(id, (r) => {
      r.restartCount = (r.restartCount ?? 0) + 1;
      r.error = undefined;
      r.oomKilled = undefined;
    });
    const current = this.store.get(id);
    try {
      ensureBundle(current.bundle, current.logDir); // a reboot empties <run>: the bundle is made again
    } catch (err) {
      // nothing to make it from: trying again in a moment would fail the same way, for ever
      this.log.warn('cannot restart', { id, err: errorMessage(err) });
      this.store.update(id, (r) => {
        r.restartAt = undefined;
        r.error = `restart failed: ${errorMessage(err)}`;
      });
      return;
    }
    try {
      await launchTask(this, current);
      await this.startLocked(id);
      this.store.update(id, (r) => {
        r.restartAt = undefined;
      });
      this.log.info('restarted', { id, name: record.name, count: this.store.get(id).restartCount });
    } catch (err) {
      this.log.warn('restart failed', { id, err: errorMessage(err) });
      const failed = this.store.find(id);
      if (failed === undefined) return;
      if (failed.status === 'created' || failed.status === 'running') {
        this.store.update(id, (r) => {
          r.status = 'stopped';
        });
      }
      await this.teardownTask(this.store.get(id)).catch(() => undefined);
      this.store.update(id, (r) => {
        r.status = 'stopped';
        r.restartAt = undefined;
        r.exitStatus = 127;
        r.exitedAt = new Date().toISOString();
        r.error = `restart failed: ${errorMessage(err)}`;
      });
      this.considerRestart(id);
    }
  }

  /** A restart whose task was created but not started when the daemon went down. */
  private async finishRestart(id: string): Promise<void> {
    const record = this.store.find(id);
    if (record === undefined || record.status !== 'created' || record.restartAt === undefined) return;
    await this.startLocked(id);
    this.store.update(id, (r) => {
      r.restartAt = undefined;
    });
  }

  /** `stop` and `rm`: the container's restart policy ends here (a pending restart is cancelled). */
  private endRestarts(id: string): void {
    clearTimeout(this.restartTimers.get(id));
    this.restartTimers.delete(id);
    if (this.store.find(id) === undefined) return;
    this.store.update(id, (r) => {
      r.manualStop = true;
      r.restartAt = undefined;
    });
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  private apply(record: ContainerRecord, decoded: TaskEvent): void {
    switch (decoded.topic) {
      case '/tasks/exit':
        // the init's exit (an exec's carries the exec id in `id`); one for another pid is a late
        // event of a task the container had before a restart, not of the task it runs now
        if ((decoded.event.id === '' || decoded.event.id === record.id) && (record.pid === 0 || decoded.event.pid === 0 || decoded.event.pid === record.pid)) {
          this.applyExit(record.id, { status: decoded.event.exitStatus, at: fromTimestamp(decoded.event.exitedAt), pid: decoded.event.pid });
        }
        return;
      case '/tasks/start':
        if (record.status === 'created') {
          this.store.update(record.id, (r) => {
            r.status = 'running';
            r.pid = decoded.event.pid;
            r.startedAt = new Date().toISOString(); // a created task's start: a new run
          });
        }
        return;
      case '/tasks/paused':
      case '/tasks/resumed':
        if (record.status === 'running') {
          this.store.update(record.id, (r) => {
            r.paused = decoded.topic === '/tasks/paused' ? true : undefined;
          });
        }
        return;
      case '/tasks/oom':
        this.store.update(record.id, (r) => {
          r.oomKilled = true;
        });
        return;
      default:
        return;
    }
  }

  /**
   * The task's /tasks/delete is in the stream before the teardown ends (and so before a
   * /containers/delete): the shim's own, or, when it does not come in time, ours from its Delete answer.
   */
  private async settleDeleteEvent(record: ContainerRecord, response: task.DeleteResponse): Promise<void> {
    const deleted = deleteResultOf(response);
    const pid = deleted.pid;
    if (await this.deletes.waitFor(record.id, pid, DELETE_EVENT_WAIT_MS)) return;
    this.log.warn('the shim did not publish the task delete in time: publishing it for the shim', { id: record.id, ms: DELETE_EVENT_WAIT_MS });
    this.publishOwnDelete(record, { pid, exitStatus: deleted.exitStatus, exitedAt: deleted.exitedAt });
  }

  /** Our own /tasks/delete for a task whose shim did not send it; the shim's late copy, if any, is dropped. */
  private publishOwnDelete(record: ContainerRecord, exit: { pid: number; exitStatus: number; exitedAt: Date }): void {
    this.deletes.publishedOurs(record.id, exit.pid);
    this.exchange.publish(ownEvent('/tasks/delete', record, exit));
  }

  /** The shim of a running container, or FailedPrecondition naming `verb`. */
  private requireShimOf(record: ContainerRecord, verb: string): Shim {
    if (record.status !== 'running') throw new ErrdefsError('failedPrecondition', `cannot ${verb} container ${record.name}: it is ${record.status}`);
    return this.requireShim(record);
  }

  private requireShim(record: ContainerRecord): Shim {
    const shim = this.shims.get(record.id);
    if (shim === undefined) throw new ErrdefsError('unavailable', `the shim of container ${record.name} is not connected`);
    return shim;
  }

  /** Kill through the shim; a task that is gone is "not running" (FailedPrecondition). */
  private async signal(record: ContainerRecord, signal: number, all: boolean): Promise<void> {
    if (!hasTask(record.status)) throw new ErrdefsError('failedPrecondition', `container ${record.name} is not running`);
    const shim = this.requireShim(record);
    try {
      await shim.kill(record.id, signal, all);
    } catch (err) {
      if (err instanceof ErrdefsError && err.kind === 'notFound') throw new ErrdefsError('failedPrecondition', `container ${record.name} is not running`);
      throw err;
    }
    // a frozen process cannot act on a signal: thaw it (docker does the same)
    if (this.store.find(record.id)?.paused === true) {
      await shim.resume(record.id).catch((err: unknown) => this.log.debug('resume after kill', { id: record.id, err: errorMessage(err) }));
      this.store.update(record.id, (r) => {
        r.paused = undefined;
      });
    }
  }

  /** `signal`, logging instead of throwing; false when it could not be sent. */
  private async signalQuietly(record: ContainerRecord, signal: number, all: boolean): Promise<boolean> {
    try {
      await this.signal(record, signal, all);
      return true;
    } catch (err) {
      this.log.debug('signal not delivered', { id: record.id, signal, err: errorMessage(err) });
      return false;
    }
  }

  /** A shim died under a running daemon: `delete` it and record the exit it reports (137). */
  onShimLost(id: string): void {
    void this.queue.run(id, () => this.shimLost(id)).catch((err: unknown) => this.log.error('cleanup after a dead shim failed', { id, err: errorMessage(err) }));
  }

  /** onShimLost's work, in the container's queue; false when there was nothing to do. */
  private async shimLost(id: string): Promise<boolean> {
    const record = this.store.find(id);
    if (record === undefined || record.shim === undefined) return false;
    const result = await this.shims.cleanupDead(record);
    this.store.update(id, (r) => {
      r.shim = undefined;
    });
    this.applyExit(id, { status: result.exitStatus, at: result.exitedAt, pid: result.pid, reason: 'shim died', publish: true });
    return true;
  }

  /**
   * For a call in the container's queue that waits for an exit (stop, rm -f): when the shim died,
   * its cleanup (onShimLost) is queued behind this very call, and the exit it records would come
   * only after the wait gave up. Done here instead: true when it recorded the exit.
   */
  private async exitOfLostShim(id: string): Promise<boolean> {
    if (!this.shims.isLost(id)) return false;
    return this.shimLost(id);
  }

  /** exits.waitFor, given up as soon as the shim dies (exitOfLostShim then has the exit); false at once for a shim that died already. */
  private async waitExit(id: string, ms: number): Promise<boolean> {
    if (this.shims.isLost(id)) return false;
    return this.exits.waitFor(id, ms, this.shims.get(id)?.closed);
  }
}

function ownEvent(topic: string, record: ContainerRecord, exit: { pid?: number; exitStatus?: number; exitedAt?: Date }): SupervisorEvent {
  return {
    timestamp: new Date(),
    namespace: record.namespace,
    topic,
    containerId: record.id,
    containerName: record.name,
    execId: '',
    pid: exit.pid ?? 0,
    exitStatus: exit.exitStatus ?? 0,
    exitedAt: exit.exitedAt,
    event: undefined,
  };
}

function toSupervisorEvent(event: ForwardedEvent, decoded: TaskEvent | undefined, name: string): SupervisorEvent {
  const e = decoded?.event as { containerId?: string; id?: string; execId?: string; pid?: number; exitStatus?: number; exitedAt?: unknown } | undefined;
  const execId = e?.execId ?? (e?.id !== undefined && e.id !== e.containerId ? e.id : '');
  return {
    timestamp: event.timestamp,
    namespace: event.namespace,
    topic: event.topic,
    containerId: e?.containerId ?? '',
    containerName: name,
    execId,
    pid: e?.pid ?? 0,
    exitStatus: e?.exitStatus ?? 0,
    exitedAt: decoded?.topic === '/tasks/exit' || decoded?.topic === '/tasks/delete' ? fromTimestamp(decoded.event.exitedAt) : undefined,
    event: event.raw,
  };
}
