/**
 * The exit monitor: the one place every child of the shim is started and every exit is learnt.
 *
 * - `spawn` starts a child with posix_spawn when the monitor has the native layer (direct.ts: no
 *   fork of the Node process), through child_process otherwise. Either way its pid is registered
 *   with the reaper as someone else's before `spawn` returns, and its exit is a promise created at
 *   the same moment — a caller cannot subscribe too late (STYLE B.4).
 * - Exits of processes the shim did not spawn directly (container inits and execs once runc has
 *   exited, and their orphans) come from the reaper. `subscribe()` collects them from that moment
 *   on, so a caller can open a window before starting a process and still see an exit that happens
 *   before its pid is known (containerd's preStart / handleStarted).
 *
 * The runc client and everything else that runs a binary receive this monitor by injection; the
 * lint forbids child_process anywhere else in shim/.
 */
import { spawn as spawnChild } from 'node:child_process';
import { constants } from 'node:os';
import { type SpawnOptions, type Spawned } from './child';
import { type DirectNative, spawnDirect } from './direct';
import { type Exit, nowNs } from './exit';
import { type Reaper } from './reaper';

/** Exits collected from the moment of subscription until `close()`. */
export interface ExitSubscription {
  /** The exits seen so far (and still to come, until closed). */
  readonly exits: readonly Exit[];
  /** The exit of `pid` if it was seen. */
  find(pid: number): Exit | undefined;
  close(): void;
}

/** Something that can start children and report every exit. */
export interface ProcessMonitor {
  spawn(command: string, args: readonly string[], options: SpawnOptions): Spawned;
  subscribe(): ExitSubscription;
  onExit(listener: (exit: Exit) => void): () => void;
  /** Reports, synchronously, the exits of children that died and were not reported yet. */
  reapNow(): void;
}

/** The monitor over a real reaper, posix_spawn (given the native layer) and child_process. */
export class ExitMonitor implements ProcessMonitor {
  private direct: DirectNative | undefined;

  /** Without `native` (a process that does not load koffi, like the `delete` action) children come from child_process. */
  constructor(
    private readonly reaper: Reaper,
    native?: DirectNative,
  ) {
    this.direct = native;
  }

  spawn(command: string, args: readonly string[], options: SpawnOptions): Spawned {
    if (this.direct) {
      try {
        return spawnDirect(this.direct, this.reaper, command, args, options);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSYS') throw err;
        this.direct = undefined; // no posix_spawn here: child_process from now on
      }
    }
    return this.spawnForked(command, args, options);
  }

  private spawnForked(command: string, args: readonly string[], options: SpawnOptions): Spawned {
    const child = spawnChild(command, args, { ...(options.cwd !== undefined ? { cwd: options.cwd } : {}), ...(options.env ? { env: options.env } : {}), stdio: [...options.stdio] });
    child.on('error', () => undefined); // a failed kill(2) is reported as 'error' after a start: kill() returns false instead
    const pid = child.pid;
    if (pid !== undefined) this.reaper.own(pid);
    const exit = new Promise<Exit>((resolve, reject) => {
      child.once('error', (err) => {
        if (pid === undefined) reject(err); // could not start; otherwise 'exit' still follows
      });
      child.once('exit', (code, signal) => {
        if (pid !== undefined) this.reaper.disown(pid);
        const signo = signal ? constants.signals[signal] : undefined;
        resolve(signo === undefined ? { pid: pid ?? 0, status: code ?? 0, at: nowNs() } : { pid: pid ?? 0, status: 128 + signo, signal: signo, at: nowNs() });
      });
    });
    return { child: { pid, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, kill: (signal) => child.kill(signal) }, exit };
  }

  subscribe(): ExitSubscription {
    const exits: Exit[] = [];
    const unsubscribe = this.reaper.onExit((exit) => exits.push(exit));
    return {
      exits,
      find: (pid) => exits.find((e) => e.pid === pid),
      close: unsubscribe,
    };
  }

  onExit(listener: (exit: Exit) => void): () => void {
    return this.reaper.onExit(listener);
  }

  reapNow(): void {
    this.reaper.poll();
  }
}
