/**
 * Running a process in a running container (`tsrunc exec`), its output streamed to the caller:
 *
 *   two FIFOs in the task's bundle (`<exec id>-stdout`, `-stderr`), opened by us for reading and
 *   also for writing (a keep-open writer, so the read side never sees a spurious EOF before the shim
 *   opens its end) → Exec (the container's process spec with the new args/env/cwd) → Start → Wait;
 *   after the exit our writers close, so the readers see EOF once the shim closed its ends (when the
 *   exec's output is drained) → Delete the exec, remove the FIFOs.
 *
 * Output is delivered in order per stream; the exit status comes last.
 *
 * Interactive (ExecAttach): with `stdin`, a third FIFO `<exec id>-stdin` that we hold open for
 * writing (stdin.ts) carries the caller's input; with `terminal`, the process gets a pty of the
 * given size (process.consoleSize, set by runc as it makes the pty) and everything it prints comes
 * out of the stdout FIFO. `controls` — input, EOF, window sizes — are applied once it started.
 */
import { closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Native } from '../../native';
import { ErrdefsError } from '../../proto/errdefs';
import { OCI_PROCESS_TYPE_URL, packJson, task } from '../../proto/index';
import type { Shim } from '../shims/shim';
import { type OciSpec, mergeEnv } from '../shims/spec';
import type { ContainerRecord } from '../store/types';
import { newExecId } from '../util/identifiers';
import { StdinFifo } from './stdin';

/** What the caller wants run. */
export interface ExecSpec {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  /** A terminal of this size (ExecAttach). */
  readonly terminal?: { readonly width: number; readonly height: number } | undefined;
  /** Take input from the caller (ExecAttach). */
  readonly stdin?: boolean | undefined;
}

/** What an interactive caller sends once the process runs. */
export type ExecControl =
  | { readonly kind: 'stdin'; readonly data: Uint8Array }
  | { readonly kind: 'close-stdin' }
  | { readonly kind: 'resize'; readonly width: number; readonly height: number };

/** Where the output goes; `write` may return a promise to apply back-pressure. */
export interface ExecSink {
  write(stream: 'stdout' | 'stderr', data: Buffer): void | Promise<void>;
}

/** The outcome. */
export interface ExecResult {
  readonly execId: string;
  readonly pid: number;
  readonly exitStatus: number;
}

/** How long after the exit the output may take to reach EOF (the Go shim waits 2 s for its copiers). */
const DRAIN_MS = 2_000;

/** One FIFO we read, with our keep-open writer. */
class OutputFifo {
  private readonly reader: net.Socket;
  private writerFd: number | undefined;
  readonly ended: Promise<void>;

  constructor(
    readonly path: string,
    native: Pick<Native, 'mkfifo'>,
    stream: 'stdout' | 'stderr',
    sink: ExecSink,
  ) {
    native.mkfifo(path, 0o600);
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.writerFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    this.reader = new net.Socket({ fd: readFd, readable: true, writable: false });
    this.ended = new Promise((resolve) => {
      this.reader.on('end', resolve);
      this.reader.on('close', resolve);
      this.reader.on('error', () => resolve());
    });
    this.reader.on('data', (chunk: Buffer) => {
      const pending = sink.write(stream, chunk);
      if (pending !== undefined) {
        this.reader.pause();
        void pending.then(() => this.reader.resume());
      }
    });
  }

  /** Drops our writer: EOF follows once the shim's writer is closed too. */
  closeWriter(): void {
    if (this.writerFd !== undefined) closeSync(this.writerFd);
    this.writerFd = undefined;
  }

  close(): void {
    this.closeWriter();
    this.reader.destroy();
    rmSync(this.path, { force: true });
  }
}

/** The process spec of an exec: the container's, with args, env and cwd from `spec`. */
export function execProcessSpec(bundle: string, spec: ExecSpec): Record<string, unknown> {
  const oci = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as OciSpec;
  const base = oci.process ?? {};
  const size = spec.terminal !== undefined && spec.terminal.width > 0 && spec.terminal.height > 0 ? { consoleSize: { width: spec.terminal.width, height: spec.terminal.height } } : {};
  return {
    ...base,
    ...size,
    terminal: spec.terminal !== undefined,
    args: [...spec.args],
    env: mergeEnv(base.env ?? [], spec.env),
    cwd: spec.cwd !== '' ? spec.cwd : (base.cwd ?? '/'),
  };
}

/** Runs `spec` in the container of `record` through `shim`; resolves when it exited and its output is delivered. */
export async function runExec(
  shim: Shim,
  record: ContainerRecord,
  native: Pick<Native, 'mkfifo'>,
  spec: ExecSpec,
  sink: ExecSink,
  controls?: AsyncIterable<ExecControl>,
): Promise<ExecResult> {
  if (spec.args.length === 0) throw new ErrdefsError('invalidArgument', 'exec needs a command');
  const execId = newExecId();
  const process = execProcessSpec(record.bundle, spec);
  const terminal = spec.terminal !== undefined;
  const out = new OutputFifo(join(record.bundle, `${execId}-stdout`), native, 'stdout', sink);
  let err: OutputFifo | undefined;
  let stdin: StdinFifo | undefined;
  let added = false;
  let exited = false;
  try {
    // a terminal has no stderr: the pty carries everything
    if (!terminal) err = new OutputFifo(join(record.bundle, `${execId}-stderr`), native, 'stderr', sink);
    if (spec.stdin === true) stdin = StdinFifo.open(join(record.bundle, `${execId}-stdin`), native);
    await shim.exec(
      task.ExecProcessRequest.create({
        id: record.id,
        execId,
        terminal,
        stdin: stdin?.path ?? '',
        stdout: out.path,
        stderr: err?.path ?? '',
        spec: packJson(OCI_PROCESS_TYPE_URL, process),
      }),
    );
    added = true;
    const started = await shim.start(record.id, execId);
    if (controls !== undefined) void applyControls(controls, { shim, id: record.id, execId, stdin, terminal, done: () => exited });
    const exit = await shim.wait(record.id, execId);
    exited = true;
    const fifos = err === undefined ? [out] : [out, err];
    for (const f of fifos) f.closeWriter();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(fifos.map((f) => f.ended)), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
    return { execId, pid: started.pid, exitStatus: exit.exitStatus };
  } finally {
    exited = true;
    out.close();
    err?.close();
    if (stdin !== undefined) {
      stdin.close();
      rmSync(stdin.path, { force: true });
    }
    if (added) await shim.delete(record.id, execId).catch(() => undefined);
  }
}

/** Applies an interactive caller's input, EOF and window sizes to a started exec, until it exited. */
async function applyControls(
  controls: AsyncIterable<ExecControl>,
  to: { shim: Shim; id: string; execId: string; stdin: StdinFifo | undefined; terminal: boolean; done: () => boolean },
): Promise<void> {
  try {
    for await (const c of controls) {
      if (to.done()) return;
      switch (c.kind) {
        case 'stdin':
          await to.stdin?.write(c.data);
          break;
        case 'close-stdin':
          if (to.stdin !== undefined && !to.stdin.isClosed) {
            to.stdin.close();
            await to.shim.closeStdin(to.id, to.execId).catch(() => undefined);
          }
          break;
        case 'resize':
          if (to.terminal && c.width > 0 && c.height > 0) await to.shim.resizePty(to.id, to.execId, c.width, c.height).catch(() => undefined);
          break;
      }
    }
  } catch {
    // the caller went away: the exec runs on to its end
  }
}
