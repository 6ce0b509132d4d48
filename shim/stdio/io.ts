/**
 * The stdio of one process, whatever its mode: `openIO` picks the implementation from the stdio
 * strings and the terminal flag (PROTOCOL §10): pipes to FIFOs or a file, a logging binary, or a
 * terminal through runc's console socket.
 */
import { type Native } from '../../native';
import { type ProcessMonitor } from '../reaper';
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
}

/** Opens the stdio of a process. */
export async function openIO(stdio: StdioConfig, ctx: IoContext): Promise<ProcessIO> {
  const mode = parseStdio(stdio);
  if (stdio.terminal) throw new Error('terminal stdio is not supported yet');
  if (mode.kind === 'binary') throw new Error('binary:// logging is not supported yet');
  const options = { native: ctx.native, ...(ctx.uid ? { uid: ctx.uid } : {}), ...(ctx.gid ? { gid: ctx.gid } : {}) };
  return Promise.resolve(PipeIO.open(mode, options));
}
