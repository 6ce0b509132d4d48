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

/** What the caller wants run. */
export interface ExecSpec {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
}

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
  return {
    ...base,
    terminal: false,
    args: [...spec.args],
    env: mergeEnv(base.env ?? [], spec.env),
    cwd: spec.cwd !== '' ? spec.cwd : (base.cwd ?? '/'),
  };
}

/** Runs `spec` in the container of `record` through `shim`; resolves when it exited and its output is delivered. */
export async function runExec(shim: Shim, record: ContainerRecord, native: Pick<Native, 'mkfifo'>, spec: ExecSpec, sink: ExecSink): Promise<ExecResult> {
  if (spec.args.length === 0) throw new ErrdefsError('invalidArgument', 'exec needs a command');
  const execId = newExecId();
  const process = execProcessSpec(record.bundle, spec);
  const out = new OutputFifo(join(record.bundle, `${execId}-stdout`), native, 'stdout', sink);
  let err: OutputFifo | undefined;
  let added = false;
  try {
    err = new OutputFifo(join(record.bundle, `${execId}-stderr`), native, 'stderr', sink);
    await shim.exec(
      task.ExecProcessRequest.create({ id: record.id, execId, terminal: false, stdin: '', stdout: out.path, stderr: err.path, spec: packJson(OCI_PROCESS_TYPE_URL, process) }),
    );
    added = true;
    const started = await shim.start(record.id, execId);
    const exit = await shim.wait(record.id, execId);
    const fifos = [out, err];
    for (const f of fifos) f.closeWriter();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(fifos.map((f) => f.ended)), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
    return { execId, pid: started.pid, exitStatus: exit.exitStatus };
  } finally {
    out.close();
    err?.close();
    if (added) await shim.delete(record.id, execId).catch(() => undefined);
  }
}
