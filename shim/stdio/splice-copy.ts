/**
 * A zero-copy copier from a pipe to a pipe or FIFO: splice(2) moves the kernel's pipe buffers from
 * the container's output pipe to the client's FIFO without the bytes ever entering Node, driven by
 * readiness from Node's own epoll (native.watchFd) — no thread, no busy loop.
 *
 * Throughput, 512 MiB from `dd bs=1M` through a pipe into a FIFO read by `cat > /dev/null`, median of
 * 3 runs on the development VM (2 vCPU, Linux 6.18, Node 20.20.2; test/fixtures/stdio-splice-bench.ts):
 *   net.Socket pipe() (the stream path) ............ 0.87 s  589 MiB/s
 *   SpliceCopy, 64 KiB pipes ........................ 0.36 s  1422 MiB/s
 *   SpliceCopy, container pipe F_SETPIPE_SZ 1 MiB ... 0.31 s  1651 MiB/s (not done: pipe-io.ts says why)
 * The shim's own CPU time drops even more (the data never crosses into user space).
 *
 * State machine — the copier waits on exactly one side at a time:
 *   source   — watching the source for readable (data or EOF);
 *   dest     — the destination is full: the source watch is stopped (back-pressure reaches the
 *              writer of the source) and the destination is watched for writable;
 *   stalled  — several wake-ups in a row moved nothing (should not happen with pipes; a safety net
 *              against a spin): both watches stopped, retried after a short timer;
 *   done     — finished; `done` has resolved with the outcome.
 * splice answers EAGAIN both when the source is empty and when the destination is full. Which one
 * is told by what woke us: woken by the source and nothing moved → the destination is full; woken by
 * the destination and nothing moved → the source is empty; something moved, then EAGAIN → keep
 * waiting on the side that woke us (if that guess is wrong, the next wake-up moves nothing and
 * switches sides: at most one extra wake-up per switch).
 *
 * The copier owns both fds and closes them exactly once, in `finish` — except when splice is not
 * supported between them (EINVAL: e.g. a destination that is not a pipe and cannot splice), where
 * it closes nothing and hands both back in the outcome, so the caller can fall back to streams.
 */
import { type FdEvents, type FdWatch, type Native } from '../../native';

/** Bytes per splice call: more than a pipe holds, so one call moves whatever is there. */
const CHUNK = 1 << 20;
/** splice calls per wake-up before yielding to the event loop (level-triggered: we come back). */
const CALLS_PER_WAKEUP = 16;
/** Wake-ups in a row that moved nothing before the copier backs off on a timer. */
const MAX_IDLE_WAKEUPS = 4;
const STALL_RETRY_MS = 10;

/** How a copy ended. `bytes` counts what was moved. */
export type SpliceOutcome =
  /** The source reached EOF; the destination has been closed (its reader sees EOF). */
  | { kind: 'eof'; bytes: number }
  /** The destination's reader went away (EPIPE); both fds closed. */
  | { kind: 'destinationClosed'; bytes: number }
  /** `close()` was called; both fds closed. */
  | { kind: 'closed'; bytes: number }
  /** An unexpected error; both fds closed. */
  | { kind: 'error'; bytes: number; error: Error }
  /** splice(2) cannot move data between these fds: nothing closed, both handed back. */
  | { kind: 'unsupported'; bytes: number; error: Error; source: number; destination: number };

/** What the copier needs from the native layer. */
export type SpliceNative = Pick<Native, 'splice' | 'watchFd' | 'close'>;

type State = 'source' | 'dest' | 'stalled' | 'done';
type Side = 'source' | 'dest';

/** One running pipe → pipe/FIFO copy. */
export class SpliceCopy {
  /** Resolves (never rejects) when the copy has ended. */
  readonly done: Promise<SpliceOutcome>;
  private resolveDone!: (outcome: SpliceOutcome) => void;
  private state: State = 'source';
  private bytes = 0;
  private idleWakeups = 0;
  private readonly sourceWatch: FdWatch;
  private destWatch: FdWatch | undefined;
  private stallTimer: NodeJS.Timeout | undefined;

  /** Starts copying from `source` (a pipe read end) to `destination` (a pipe/FIFO write end); takes ownership of both. */
  constructor(
    private readonly native: SpliceNative,
    readonly source: number,
    readonly destination: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.sourceWatch = native.watchFd(source, (events) => this.wake('source', events), { readable: true });
  }

  /** Bytes moved so far. */
  get moved(): number {
    return this.bytes;
  }

  /** What the copier is waiting for: data on the source, room in the destination, a retry timer, or nothing (done). */
  get waitingOn(): 'source' | 'destination' | 'timer' | undefined {
    switch (this.state) {
      case 'source':
        return 'source';
      case 'dest':
        return 'destination';
      case 'stalled':
        return 'timer';
      case 'done':
        return undefined;
    }
  }

  /** Stops copying and closes both fds. Idempotent. */
  close(): void {
    this.finish({ kind: 'closed', bytes: this.bytes });
  }

  private wake(side: Side, _events: FdEvents): void {
    // A watch reporting no flags at all had an error (POLLERR: e.g. the destination's reader is
    // gone); splice itself then tells what happened.
    if (this.state !== side) return; // a late event for the side we stopped watching
    this.pump(side);
  }

  private pump(trigger: Side): void {
    let movedNow = 0;
    for (let i = 0; i < CALLS_PER_WAKEUP; i++) {
      let n: number | null;
      try {
        n = this.native.splice(this.source, this.destination, CHUNK);
      } catch (err) {
        this.failed(err);
        return;
      }
      if (n === 0) {
        this.finish({ kind: 'eof', bytes: this.bytes });
        return;
      }
      if (n === null) {
        this.blocked(trigger, movedNow);
        return;
      }
      movedNow += n;
      this.bytes += n;
    }
    this.idleWakeups = 0; // budget used up while still moving: readiness brings us back
  }

  /** EAGAIN: decide which side to wait on (see the header). */
  private blocked(trigger: Side, movedNow: number): void {
    if (movedNow > 0) {
      this.idleWakeups = 0;
      this.waitOn(trigger);
      return;
    }
    if (++this.idleWakeups >= MAX_IDLE_WAKEUPS) {
      this.stall();
      return;
    }
    this.waitOn(trigger === 'source' ? 'dest' : 'source');
  }

  private waitOn(side: Side): void {
    if (this.state === side) return;
    this.state = side;
    if (side === 'source') {
      this.destWatch?.update({});
      this.sourceWatch.update({ readable: true });
    } else {
      this.sourceWatch.update({});
      if (this.destWatch) this.destWatch.update({ writable: true });
      else this.destWatch = this.native.watchFd(this.destination, (events) => this.wake('dest', events), { writable: true });
    }
  }

  private stall(): void {
    this.state = 'stalled';
    this.sourceWatch.update({});
    this.destWatch?.update({});
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.idleWakeups = 0;
      this.state = 'dest'; // so that waitOn re-arms the source watch
      this.waitOn('source');
    }, STALL_RETRY_MS);
  }

  private failed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') this.finish({ kind: 'destinationClosed', bytes: this.bytes });
    else if (code === 'EINVAL') this.finish({ kind: 'unsupported', bytes: this.bytes, error, source: this.source, destination: this.destination });
    else this.finish({ kind: 'error', bytes: this.bytes, error });
  }

  /** The one place the copier's fds are closed (or handed back). */
  private finish(outcome: SpliceOutcome): void {
    if (this.state === 'done') return;
    this.state = 'done';
    clearTimeout(this.stallTimer);
    // a watch must be closed before its fd
    this.sourceWatch.close();
    this.destWatch?.close();
    if (outcome.kind !== 'unsupported') {
      // destination first: at EOF its reader must see EOF even if closing the source failed
      closeQuietly(this.native, this.destination);
      closeQuietly(this.native, this.source);
    }
    this.resolveDone(outcome);
  }
}

function closeQuietly(native: Pick<Native, 'close'>, fd: number): void {
  try {
    native.close(fd);
  } catch {
    // already closed: nothing left to release
  }
}
