/**
 * Fakes for the shim's unit tests, at the seams the production code injects (STYLE B.4, B.12):
 *
 * - `FakeMonitor`: a ProcessMonitor whose exits the test delivers (`deliver`) and whose spawned
 *   children follow a script (`script`) — output, exit status, or a spawn error — so runc
 *   invocations are observed as argv without running anything;
 * - `FakeProcess`: a real BaseProcess (state table, exit latch, queue) whose state the test moves
 *   through the real transitions, plus the init-only hooks ExitTracker calls (killAll,
 *   resumeAfterExit) as controllable promises;
 * - `fakeContainer`: the part of a Container the exit bookkeeping reads;
 * - `Deferred`, `tempDir`: small test plumbing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { type Container } from '../../../shim/container/container';
import { BaseProcess } from '../../../shim/process/base';
import { type ProcessState, type Role, type Transition } from '../../../shim/process/state';
import { type DeliveryOutcome, type StdioConfig } from '../../../shim/process/types';
import { type Child, type Exit, type ExitSubscription, type ProcessMonitor, type SpawnOptions, type Spawned } from '../../../shim/reaper';

/** A promise with its resolve/reject exposed. */
export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (err: Error) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** Lets every queued microtask (and promise continuation chain) run. */
export async function flushMicrotasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A fresh temporary directory and its removal. */
export function tempDir(prefix = 'tsrunc-unit-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** One `spawn` the code under test made. */
export interface SpawnCall {
  command: string;
  args: string[];
  options: SpawnOptions;
  /** Everything written to the child's stdin. */
  stdin: string;
}

/** How a scripted child ends. */
export interface SpawnOutcome {
  /** Exit status (default 0). */
  status?: number;
  signal?: number;
  stdout?: string;
  stderr?: string;
  /** The child could not be started (the exit promise rejects, as for ENOENT). */
  spawnError?: Error;
}

export type SpawnScript = (call: SpawnCall) => SpawnOutcome | Promise<SpawnOutcome>;

/**
 * A ProcessMonitor for tests. Exits are delivered synchronously, in order, to every listener in
 * subscription order — as the real Reaper does (the tracker's `onExit` listener, attached first,
 * sees an exit before the start windows' subscriptions collect it).
 */
export class FakeMonitor implements ProcessMonitor {
  readonly spawns: SpawnCall[] = [];
  /** Decides how each spawned child ends (runs in a microtask after `spawn` returned). */
  script: SpawnScript = () => ({});
  private nextPid = 40_000;
  private readonly listeners = new Set<(exit: Exit) => void>();
  private subscriptions = 0;

  /** Subscriptions opened and not closed yet. */
  get openSubscriptions(): number {
    return this.subscriptions;
  }

  /** Listeners registered through `onExit` or `subscribe` and still attached. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  spawn(command: string, args: readonly string[], options: SpawnOptions): Spawned {
    const call: SpawnCall = { command, args: [...args], options, stdin: '' };
    this.spawns.push(call);
    const pid = this.nextPid++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        call.stdin += chunk.toString();
        callback();
      },
    });
    const child: Child = { pid, stdout, stderr, stdin, kill: () => false };
    const exit = Promise.resolve()
      .then(() => this.script(call))
      .then(
        (outcome) => {
          stdout.end(outcome.stdout ?? '');
          stderr.end(outcome.stderr ?? '');
          if (outcome.spawnError) throw outcome.spawnError;
          const status = outcome.status ?? 0;
          return outcome.signal === undefined ? { pid, status, at: 1n } : { pid, status, signal: outcome.signal, at: 1n };
        },
        (err: unknown) => {
          stdout.end();
          stderr.end();
          throw err;
        },
      );
    return { child, exit };
  }

  subscribe(): ExitSubscription {
    const exits: Exit[] = [];
    const listener = (exit: Exit): void => {
      exits.push(exit);
    };
    this.listeners.add(listener);
    this.subscriptions++;
    let open = true;
    return {
      exits,
      find: (pid) => exits.find((e) => e.pid === pid),
      close: () => {
        if (!open) return;
        open = false;
        this.subscriptions--;
        this.listeners.delete(listener);
      },
    };
  }

  onExit(listener: (exit: Exit) => void): () => void {
    // a fresh wrapper, so the same function may be attached twice like a real Set of closures
    const wrapped = (exit: Exit): void => listener(exit);
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  /** Exits of children that died and are not reported yet: their SIGCHLD has not been handled. */
  private readonly zombies: Exit[] = [];
  /** reapNow calls. */
  reapNowCalls = 0;

  /** A child died: its exit is reported on the next reapNow (or by `deliver`ing it). */
  die(pid: number, status = 0, at = 1_000n): void {
    this.zombies.push({ pid, status, at });
  }

  reapNow(): void {
    this.reapNowCalls++;
    for (const exit of this.zombies.splice(0)) for (const listener of [...this.listeners]) listener(exit);
  }

  /** Reports an exit, synchronously, to every attached listener; returns it. */
  deliver(pid: number, status = 0, at = 1_000n): Exit {
    const exit: Exit = { pid, status, at };
    for (const listener of [...this.listeners]) listener(exit);
    return exit;
  }
}

/** The init-only hooks ExitTracker calls on `container.init`. */
export interface InitHooks {
  killAll(): Promise<void>;
  resumeAfterExit(): Promise<void>;
}

/**
 * A BaseProcess driven by the test: the state moves only through the real transition table
 * (`move`), the exit latch and queue are the real ones. `killAllResult` decides how killAll ends;
 * `trace` records the hook calls in order with whatever else the test records there.
 */
export class FakeProcess extends BaseProcess implements InitHooks {
  killAllResult: () => Promise<void> = () => Promise.resolve();
  killAllCalls = 0;
  /** How resumeAfterExit ends (default: at once). */
  resumeAfterExitResult: () => Promise<void> = () => Promise.resolve();
  resumeAfterExitCalls = 0;
  /** What outputInFlight answers (default: nothing in flight); each call is counted. */
  inFlightResult: () => Promise<DeliveryOutcome> | undefined = () => undefined;
  inFlightCalls = 0;

  constructor(
    id: string,
    role: Role,
    private readonly trace: string[] = [],
    initial: ProcessState = 'created',
    stdio: StdioConfig = { stdin: '', stdout: '', stderr: '', terminal: false },
  ) {
    super(id, role, stdio, initial);
  }

  /** Moves along a transition of the real table (throws when it does not apply). */
  move(...transitions: Transition[]): this {
    for (const t of transitions) this.transition(t);
    return this;
  }

  killAll(): Promise<void> {
    this.killAllCalls++;
    this.trace.push(`killAll ${this.id}`);
    return this.killAllResult();
  }

  override outputInFlight(): Promise<DeliveryOutcome> | undefined {
    this.inFlightCalls++;
    return this.inFlightResult();
  }

  resumeAfterExit(): Promise<void> {
    this.resumeAfterExitCalls++;
    this.trace.push(`resumeAfterExit ${this.id}`);
    return this.resumeAfterExitResult();
  }
}

/** The part of a Container the exit bookkeeping and the responses read. */
export function fakeContainer(id: string, init: FakeProcess, options: { killAllOnExit?: boolean; bundle?: string } = {}): Container {
  return { id, init, killAllOnExit: options.killAllOnExit ?? false, bundle: options.bundle ?? `/run/b/${id}` } as unknown as Container;
}
