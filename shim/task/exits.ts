/**
 * Exit bookkeeping: which process a reaped pid was, and when its exit may be applied and published.
 * The contracts (containerd's `preStart` / `handleStarted` / `handleInitExit`, PROTOCOL §8.3):
 *
 * 1. A process's start event is published before its exit event, and an exit is never lost, even
 *    when the process dies before `runc start`/`runc exec` returns or before its pid is known.
 *    `beginStart` opens a window (an exit-monitor subscription) before runc runs; for an init
 *    start the init is taken out of `running`, so its exit is collected instead of applied. After
 *    runc returned and the start event was queued, `window.end` applies any collected exit of the
 *    new pid, or registers the pid as running. Everything from the collected check to the
 *    registration is synchronous, so no exit can slip between them. A start's window reaps first:
 *    an exit whose SIGCHLD has not reached the event loop yet is collected too.
 *
 * 2. The init's exit is published last: when the init exits while execs of its container run,
 *    the init's exit is held until every one of them has exited and been published (containerd
 *    2.x order, a deliberate difference from 1.6). From the moment the init is reaped, new execs are
 *    refused (`initExited`).
 *
 * 3. A container without a pid namespace of its own does not die with its init: before the init's
 *    exit is applied, every process of the container is killed (`runc kill --all <id> 9`).
 *
 * 4. Exactly one exit per process: exits are applied through `process.setExited`, which records
 *    the first and ignores any other.
 *
 * 5. The init's output reaches its client before its exit is applied: containerd's client up to
 *    1.6.21 and 1.7.2 (`task.Delete`: `io.Close()` before `io.Wait()`) closes its FIFOs as soon as
 *    the exit reaches it, so what was still in the container's pipe or unread in a FIFO was lost —
 *    the tail of a `ctr run --rm` whose reader was slower than the container (Go's shim loses it
 *    too: up to what its 64 KiB pipes and the FIFO held). The exit waits while the client keeps reading
 *    (`BaseProcess.outputInFlight`: bounded, and never when nothing is in flight). An exec needs no
 *    such wait: its client deletes it first, and the shim's DeleteProcess drains.
 *
 * 6. A paused (or pausing) container is resumed as soon as its init is reaped, with `runc resume`
 *    run in the init's queue (a pause still in flight finishes first), and the init's exit is
 *    applied only after it: a Delete that follows the exit finds the container thawed. On cgroup v2
 *    a frozen cgroup is `paused` to runc even with its init dead, and `runc delete` refuses it
 *    (Go's `pausedState.SetExited` resumes before the exit goes out). At once, not once rules 2 and
 *    3 let go: the container's other processes, frozen, could not exit before it.
 *
 * Exits are applied synchronously in the reaper's callback (or right after a window ends), unless
 * rule 2, 3, 5 or 6 holds them.
 */
import { type Container } from '../container/container';
import { type BaseProcess } from '../process/base';
import { type DeliveryOutcome } from '../process/types';
import { type Logger } from '../util/log';
import { type Exit, type ProcessMonitor } from '../reaper';

/** Publishes a TaskExit (the task layer owns the event queue). */
export type ExitPublisher = (container: Container, process: BaseProcess, exit: Exit) => void;

interface Tracked {
  container: Container;
  process: BaseProcess;
}

interface ContainerExits {
  /** Execs starting or started, whose exit has not been applied yet. */
  runningExecs: number;
  /** The init's exit, once reaped, until it is applied. */
  heldInitExit?: Exit | undefined;
  /** Set while `runc kill --all` runs after the init's exit. */
  killingAll?: boolean;
  /** The init has been reaped (held or applied): no new exec may start. */
  initExited: boolean;
  /** Rule 5: set while the init's output is on its way to the client, and once it has gone (or the wait gave up). */
  delivering?: boolean;
  outputDelivered?: boolean;
  /** Rule 6: set while the paused init's container is resumed, and once it was. */
  resuming?: boolean;
  resumed?: boolean;
}

/** The window around one process creation or start. */
export interface StartWindow {
  /**
   * Call after the create/start event was queued (or after the start failed): applies the exits
   * of `process` collected meanwhile, or registers its pid as running.
   */
  end(container: Container, process: BaseProcess): void;
  /** Closes the window without applying anything (the creation failed: there is no process). */
  cancel(): void;
}

/** Routes reaped exits to processes under the rules above. */
export class ExitTracker {
  private readonly running = new Map<number, Tracked>();
  private readonly containers = new Map<Container, ContainerExits>();
  /** Init exits held for their output (rule 5), each settling once its exit has been applied. */
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    private readonly monitor: ProcessMonitor,
    private readonly publishExit: ExitPublisher,
    private readonly onError: (message: string, err: unknown) => void,
    private readonly log: Pick<Logger, 'warn' | 'debug'> = { warn: () => undefined, debug: () => undefined },
  ) {}

  /** Subscribes to the monitor; returns the unsubscribe function. */
  attach(): () => void {
    return this.monitor.onExit((exit) => this.onReaped(exit));
  }

  private state(container: Container): ContainerExits {
    let s = this.containers.get(container);
    if (!s) {
      s = { runningExecs: 0, initExited: false };
      this.containers.set(container, s);
    }
    return s;
  }

  /**
   * Resolves once every init exit held for its output or its resume has been applied (shutdown
   * awaits this before it sends the last events). A held exit can move from one hold to the next
   * (its output delivered, then its container resumed): it waits until none is left.
   */
  async deliveriesDone(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.all([...this.deliveries]);
  }

  /** True once the container's init has been reaped. */
  initExited(container: Container): boolean {
    return this.containers.get(container)?.initExited ?? false;
  }

  /**
   * Forgets a deleted container. An init exit still held (a created container's init reaped, then
   * deleted while kill --all or its output held the exit) is applied without an event — the
   * delete event is the last — so its waiters get it and the Delete reply carries its status.
   */
  forget(container: Container): void {
    const held = this.containers.get(container)?.heldInitExit;
    if (held) container.init.setExited(held);
    this.containers.delete(container);
    for (const [pid, t] of this.running) if (t.container === container) this.running.delete(pid);
  }

  private onReaped(exit: Exit): void {
    const tracked = this.running.get(exit.pid);
    if (!tracked) return; // an orphan of a container, or a pid inside a start window
    this.running.delete(exit.pid);
    this.handleExit(tracked.container, tracked.process, exit);
  }

  /** Opens the window for creating a container (the init's pid is not known yet). */
  beginCreate(): StartWindow {
    return this.window(undefined, false);
  }

  /** Opens the window for starting `process` (init or exec). Must be called before runc runs. */
  beginStart(container: Container, process: BaseProcess): StartWindow {
    if (process.pid > 0 && this.running.get(process.pid)?.process === process) this.running.delete(process.pid);
    if (process.role === 'exec') this.state(container).runningExecs++;
    return this.window(process.role === 'exec' ? container : undefined, true);
  }

  /**
   * `reap`: reap at the end (a start). Not after a create: an init that died during `runc create`
   * is left to the SIGCHLD handler, after Create has looked at its pid (its cgroup, for the OOM
   * watch), as before.
   */
  private window(execOf: Container | undefined, reap: boolean): StartWindow {
    const subscription = this.monitor.subscribe();
    let open = true;
    return {
      end: (container, process) => {
        if (!open) return;
        open = false;
        const pid = process.pid;
        // a process that died as runc returned (an exec of /bin/true, reparented to us as runc
        // exits) has its SIGCHLD queued behind runc's exit: reaped now, its exit is applied with
        // the start, and Wait is answered with Start instead of a turn of the loop later
        if (reap && pid > 0) {
          try {
            this.monitor.reapNow();
          } catch (err) {
            this.onError('reaping at the end of a start', err); // the window still ends below
          }
        }
        const early = pid > 0 ? subscription.exits.filter((e) => e.pid === pid) : [];
        subscription.close();
        if (pid > 0 && early.length === 0) {
          this.running.set(pid, { container, process });
          return;
        }
        const first = early[0];
        if (first) this.handleExit(container, process, first);
        else if (execOf) this.execDone(execOf); // never started: it will not exit
      },
      cancel: () => {
        if (!open) return;
        open = false;
        subscription.close();
        if (execOf) this.execDone(execOf);
      },
    };
  }

  private handleExit(container: Container, process: BaseProcess, exit: Exit): void {
    if (process.role === 'exec') {
      // only the first exit of an exec counts: a duplicate must not release a held init exit early
      if (this.apply(container, process, exit)) this.execDone(container);
      return;
    }
    const s = this.state(container);
    s.initExited = true;
    s.heldInitExit = exit;
    this.resumeIfPaused(container, s);
    if (container.killAllOnExit && !s.killingAll) {
      s.killingAll = true;
      container.init.killAll().then(
        () => this.afterKillAll(container),
        (err: unknown) => {
          this.onError(`container ${container.id}: killing all processes after the init exited`, err);
          this.afterKillAll(container);
        },
      );
      return;
    }
    this.maybeApplyInit(container);
  }

  private afterKillAll(container: Container): void {
    const s = this.containers.get(container);
    if (!s) return;
    s.killingAll = false;
    this.maybeApplyInit(container);
  }

  private execDone(container: Container): void {
    const s = this.containers.get(container);
    if (!s) return;
    s.runningExecs = Math.max(0, s.runningExecs - 1);
    this.maybeApplyInit(container);
  }

  /**
   * A wait that gave up with output unread. A client that had read and stopped (or `maxMs` was over)
   * may lose it — containerd's client up to 1.6.21 closes its FIFOs on the exit: a warning. One
   * that never read is most likely none (a detached `ctr run -d`): the output had nowhere to go.
   */
  private reportUndelivered(container: Container, outcome: Extract<DeliveryOutcome, { delivered: false }>): void {
    const fields = { task: container.id, gaveUp: outcome.gaveUp, waitedMs: outcome.waitedMs, unread: outcome.unread, clientRead: outcome.clientRead };
    try {
      if (outcome.clientRead > 0 || outcome.gaveUp === 'limit') this.log.warn("the init's exit goes out before its client read all its output", fields);
      else this.log.debug("the init's exit goes out with output no client read (none is reading)", fields);
    } catch {
      // a report that fails changes nothing that was applied
    }
  }

  private maybeApplyInit(container: Container): void {
    const s = this.containers.get(container);
    if (!s?.heldInitExit || s.killingAll || s.runningExecs > 0 || s.delivering || s.resuming) return;
    const inFlight = s.outputDelivered ? undefined : container.init.outputInFlight();
    if (inFlight) {
      s.delivering = true;
      const delivered = (outcome?: DeliveryOutcome): void => {
        s.delivering = false;
        s.outputDelivered = true;
        if (this.containers.get(container) !== s) return; // deleted meanwhile: forget applied it
        try {
          this.maybeApplyInit(container);
        } catch (err) {
          // off the reaper's callback now: report it here rather than as an unhandled rejection
          this.onError(`container ${container.id}: applying the init's exit after its output`, err);
        }
        // after the exit was applied and its event queued: a first log line may load the logger
        if (outcome?.delivered === false) this.reportUndelivered(container, outcome);
      };
      const applied = inFlight.then(delivered, () => delivered());
      this.deliveries.add(applied);
      void applied.finally(() => this.deliveries.delete(applied));
      return;
    }
    if (this.resumeIfPaused(container, s)) return; // paused since the reap: the exit follows the resume
    const exit = s.heldInitExit;
    s.heldInitExit = undefined;
    this.apply(container, container.init, exit);
  }

  /** Rule 6: resumes a paused (or pausing) container whose init was reaped; true when a resume is on its way. */
  private resumeIfPaused(container: Container, s: ContainerExits): boolean {
    if (s.resumed || s.resuming || (container.init.state !== 'paused' && container.init.state !== 'pausing')) return s.resuming === true;
    s.resuming = true;
    const applied = container.init.queue
      .run(() => container.init.resumeAfterExit())
      .then(() => {
        s.resuming = false;
        s.resumed = true;
        if (this.containers.get(container) !== s) return; // deleted meanwhile: forget applied it
        this.maybeApplyInit(container);
      })
      .catch((err: unknown) => this.onError(`container ${container.id}: applying the init's exit after its resume`, err));
    this.deliveries.add(applied);
    void applied.finally(() => this.deliveries.delete(applied));
    return true;
  }

  /** Applies and publishes an exit; false when the process had exited already (exactly one exit). */
  private apply(container: Container, process: BaseProcess, exit: Exit): boolean {
    if (!process.setExited(exit)) return false;
    this.publishExit(container, process, exit);
    return true;
  }
}
