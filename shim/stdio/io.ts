/**
 * The stdio of one process, whatever its mode: `openIO` picks the implementation from the stdio
 * strings and the terminal flag (PROTOCOL §10): a terminal through runc's console socket (its
 * output to a FIFO, a logging binary or a file), a logging binary, or pipes to FIFOs or a file.
 */
import { statSync } from 'node:fs';
import { type Native } from '../../native';
import { type ProcessMonitor } from '../reaper';
import { BinaryIO } from './binary-logger';
import { ConsoleIO } from './console';
import { PipeIO } from './pipe-io';
import { type ProcessIO } from './types';
import { parseStdio, type StdioConfig, type StdioMode } from './uri';

export type { ProcessIO };

/** What openIO needs from the shim. */
export interface IoContext {
  native: Native;
  /** Starts children (the binary:// logger) so the one exit monitor sees them. */
  monitor: ProcessMonitor;
  /** For the binary:// logger's environment (CONTAINER_ID, CONTAINER_NAMESPACE). */
  containerId: string;
  namespace: string;
  /** Owner of the container-side ends (IoUid/IoGid). */
  uid?: number;
  gid?: number;
  /** Tells the log what went wrong in the copies (e.g. an output copy that ended before EOF). */
  warn?: (message: string, fields: Record<string, string | number>) => void;
}

/**
 * Opens the stdio of a process. Resolves when runc may run: the pipes made (their FIFOs are opened
 * by `runcStarted`, while runc runs), a file:// log open, a logging binary ready, a console socket
 * listening.
 */
export async function openIO(stdio: StdioConfig, ctx: IoContext): Promise<ProcessIO> {
  const mode = plainFile(parseStdio(stdio), stdio.terminal);
  const owner = { ...(ctx.uid ? { uid: ctx.uid } : {}), ...(ctx.gid ? { gid: ctx.gid } : {}) };
  const options = { native: ctx.native, monitor: ctx.monitor, containerId: ctx.containerId, namespace: ctx.namespace, ...owner, ...(ctx.warn ? { warn: ctx.warn } : {}) };
  if (stdio.terminal) return ConsoleIO.open(mode, options);
  switch (mode.kind) {
    case 'binary':
      return BinaryIO.open(mode, options);
    case 'null':
    case 'fifo':
    case 'file':
      return Promise.resolve(PipeIO.open(mode, options));
  }
}

/**
 * A bare path (no scheme) naming stdout and stderr both that is a regular file, not a FIFO —
 * containerd's `cio.LogFile(path)`, or `ctr run --log-uri /path` — is appended to, as Go's shim
 * does (its copyPipes opens a path that is no FIFO O_WRONLY|O_APPEND): the file mode, on a file that
 * is there. Any other path that is no FIFO is still refused when the FIFOs are opened.
 */
function plainFile(mode: StdioMode, terminal: boolean): StdioMode {
  if (mode.kind !== 'fifo' || terminal || mode.stdout === '' || mode.stdout !== mode.stderr) return mode;
  try {
    if (!statSync(mode.stdout).isFile()) return mode;
  } catch {
    return mode; // missing: the FIFO open says ENOENT
  }
  return { kind: 'file', stdin: mode.stdin, path: mode.stdout };
}

/**
 * Sees one runc create/exec/restore through, given its promise right after the call that spawned
 * it (`withRunc(io, runc.exec(…))`): the client's side opens while runc runs (`runcStarted`, which
 * never throws, so `ran` is always awaited), then `containerStarted` once runc has returned.
 */
export async function withRunc(io: ProcessIO, ran: Promise<void>): Promise<void> {
  io.runcStarted();
  await ran;
  await io.containerStarted();
}
