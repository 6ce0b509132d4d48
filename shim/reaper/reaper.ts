/**
 * The reaper: learns every exit of a process that is our child but not libuv's.
 *
 * Decision (STYLE A.1, PROTOCOL §13.3): libuv reaps the children it spawned (every child_process
 * child) by pid, and silently drops an exit someone else reaped first. A Go-style blanket
 * `wait4(-1)` would therefore swallow the exits of our own runc invocations. So this reaper never
 * waits for "any child": on each SIGCHLD it lists our children (reparented container processes
 * arrive because the shim is child subreaper), skips the pids libuv owns (registered by the exit
 * monitor, synchronously, as `spawn` returns — no SIGCHLD handler can run in between), and reaps
 * each remaining zombie with waitid(P_PID, pid, WEXITED | WNOHANG). A reaped pid cannot be reused
 * before we reap it, so there is no pid-reuse race on this path.
 *
 * Exits are delivered synchronously to listeners, in reaping order, so state is updated before any
 * other callback (or awaited continuation) can observe it.
 */
import { type Native } from '../../native';
import { listChildren } from './children';
import { type Exit, nowNs } from './exit';

export interface ReaperOptions {
  native: Pick<Native, 'waitPid'>;
  /** Lists our children; defaults to /proc (shim/reaper/children.ts). */
  listChildren?: () => number[];
  now?: () => bigint;
}

/** Reaps children libuv does not own and reports their exits. */
export class Reaper {
  private readonly native: Pick<Native, 'waitPid'>;
  private readonly children: () => number[];
  private readonly now: () => bigint;
  private readonly owned = new Set<number>();
  private readonly listeners = new Set<(exit: Exit) => void>();
  private started = false;
  private readonly onSignal = (): void => {
    this.reap();
  };

  constructor(options: ReaperOptions) {
    this.native = options.native;
    this.children = options.listChildren ?? listChildren;
    this.now = options.now ?? nowNs;
  }

  /** Starts reaping on SIGCHLD, and reaps the zombies already waiting. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    process.on('SIGCHLD', this.onSignal);
    this.reap();
  }

  /** Stops listening for SIGCHLD. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    process.off('SIGCHLD', this.onSignal);
  }

  /** Marks `pid` as libuv's: the reaper will never wait for it. */
  own(pid: number): void {
    this.owned.add(pid);
  }

  /** Forgets a libuv-owned pid once libuv has reported its exit. */
  disown(pid: number): void {
    this.owned.delete(pid);
  }

  /** Subscribes to reaped exits; returns the unsubscribe function. */
  onExit(listener: (exit: Exit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reaps now, when started, instead of when the SIGCHLD reaches the event loop: a child that died
   * together with another (a process runc started, reparented to us as runc exits) has its signal
   * queued behind the other's event, one turn of the loop later.
   */
  poll(): void {
    if (this.started) this.reap();
  }

  /** Reaps every exited child that libuv does not own; returns (and reports) their exits. */
  reap(): Exit[] {
    const exits: Exit[] = [];
    for (const pid of this.children()) {
      if (this.owned.has(pid)) continue;
      let info;
      try {
        info = this.native.waitPid(pid);
      } catch {
        continue; // ECHILD: it was reaped between the listing and now (by libuv: a pid not yet disowned)
      }
      if (!info) continue;
      const exit: Exit = info.signal === undefined ? { pid, status: info.status, at: this.now() } : { pid, status: info.status, signal: info.signal, at: this.now() };
      exits.push(exit);
    }
    for (const exit of exits) for (const listener of [...this.listeners]) listener(exit);
    return exits;
  }
}
