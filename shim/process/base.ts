/**
 * What init and exec processes share: identity, stdio, the state (moved only through the table in
 * state.ts), the exit latch (set once, synchronously, when the exit is applied) and the operation
 * queue that serialises lifecycle calls on the process.
 */
import { type Exit } from '../reaper';
import { ShimError } from '../util/errors';
import { Latch, OperationQueue } from './serial';
import { type ProcessState, type Refusal, type Role, type Transition, type Verb, next, refusal } from './state';
import { type DeliveryLimits, type DeliveryOutcome, type ProcessIO, type StdioConfig } from './types';

/**
 * How long a reaped process's exit waits for its output to reach the client: as long as the client
 * keeps reading, up to 5 s. A client that has read before and then reads nothing for 500 ms has
 * stalled or gone; one that has read nothing at all for 100 ms most likely does not exist (a
 * detached `ctr run -d` whose ctr has gone), and the exit goes out. 100 ms for both proved too
 * short on a loaded machine: a slow terminal reader that stalled longer lost the tail of its output
 * (CI, 2026-11-24); 500 ms for both held every detached exit that had printed 0.5 s.
 */
export const OUTPUT_DELIVERY: DeliveryLimits = { idleMs: 500, idleNoReaderMs: 100, maxMs: 5000 };

/** The error a refusal becomes. */
export function refusalError(r: Refusal): ShimError {
  return new ShimError(r.kind, r.message);
}

/** Base of InitProcess and ExecProcess. */
export abstract class BaseProcess {
  /** 0 until the process exists. */
  pid = 0;
  readonly exited = new Latch<Exit>();
  readonly queue = new OperationQueue();
  protected io: ProcessIO | undefined;
  private current: ProcessState;

  protected constructor(
    /** Container id for an init, exec id for an exec. */
    readonly id: string,
    readonly role: Role,
    readonly stdio: StdioConfig,
    initial: ProcessState,
  ) {
    this.current = initial;
  }

  get state(): ProcessState {
    return this.current;
  }

  /** Throws the refusal when `verb` is not allowed in the current state. */
  check(verb: Verb): void {
    const r = refusal(this.role, this.current, verb);
    if (r) throw refusalError(r);
    if (verb === 'start' && this.role === 'exec' && this.exited.done) {
      // its runc exec failed (failedToStart released its waiters): a second would run a process
      // whose exit no one could take (Go's shim panics here)
      throw new ShimError('failedPrecondition', `exec ${this.id} failed to start: delete it and exec again`);
    }
  }

  /** Moves along `transition`; a transition that does not apply is a bug, reported as such. */
  protected transition(t: Transition): void {
    const to = next(this.current, t);
    if (to === undefined) throw new ShimError('unknown', `internal: ${t} does not apply to a ${this.current} process`);
    this.current = to;
  }

  /** Moves along `transition` if it applies; returns whether it did. */
  protected tryTransition(t: Transition): boolean {
    const to = next(this.current, t);
    if (to === undefined) return false;
    this.current = to;
    return true;
  }

  /**
   * Applies the exit (synchronously, exactly once): the state becomes stopped, waiters resolve.
   * Returns false if the exit was already applied.
   */
  setExited(exit: Exit): boolean {
    if (this.exited.done) return false;
    this.tryTransition('exit');
    this.exited.set(exit);
    this.onExited();
    return true;
  }

  /**
   * An exec whose runc exec failed leaves no process to exit: release the waiters with status 0
   * and no exit time (as the Go shim does), without moving the state (the process can still be
   * deleted, not started again: `check`).
   */
  failedToStart(): void {
    this.exited.set({ pid: 0, status: 0, at: 0n });
  }

  /**
   * After the reap, before the exit is applied: a promise that resolves with how the wait ended —
   * the output the process wrote reached the client, or OUTPUT_DELIVERY gave up — or undefined
   * when none is in flight.
   */
  outputInFlight(): Promise<DeliveryOutcome> | undefined {
    return this.io?.inFlight(OUTPUT_DELIVERY);
  }

  /** What a process does when its exit is applied: its stdio learns it (a terminal's output then ends once read). */
  protected onExited(): void {
    this.io?.processExited();
  }

  /** Resolves with the exit once applied. */
  wait(): Promise<Exit> {
    return this.exited.wait();
  }

  get exitStatus(): number {
    return this.exited.current?.status ?? 0;
  }

  get exitedAt(): bigint | undefined {
    return this.exited.current?.at;
  }

  /** ResizePty. */
  resize(size: { width: number; height: number }): void {
    this.check('resize');
    this.io?.resize(size);
  }

  /** CloseIO: give the process stdin EOF once every client writer is gone. */
  closeIO(): void {
    this.check('closeIO');
    this.io?.closeStdin();
  }

  /** Marks the process deleted after its own cleanup. */
  protected markDeleted(): void {
    this.transition('delete');
  }
}
