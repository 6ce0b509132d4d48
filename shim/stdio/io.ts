/**
 * The stdio of one process, whatever its mode: `openIO` picks the implementation from the stdio
 * strings and the terminal flag (PROTOCOL §10): a terminal through runc's console socket (its
 * output to a FIFO, a logging binary or a file), a logging binary, or pipes to FIFOs or a file.
 */
import { type Native } from '../../native';
import { type ProcessMonitor } from '../reaper';
import { BinaryIO } from './binary-logger';
import { ConsoleIO } from './console';
import { PipeIO } from './pipe-io';
import { type ProcessIO } from './types';
import { parseStdio, type StdioConfig } from './uri';

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
  const mode = parseStdio(stdio);
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
 * Sees one runc create/exec/restore through, given its promise right after the call that spawned
 * it (`withRunc(io, runc.exec(…))`): the client's side opens while runc runs (`runcStarted`, which
 * never throws, so `ran` is always awaited), then `containerStarted` once runc has returned.
 */
export async function withRunc(io: ProcessIO, ran: Promise<void>): Promise<void> {
  io.runcStarted();
  await ran;
  await io.containerStarted();
}
