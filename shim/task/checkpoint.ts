/**
 * CheckpointTaskRequest.options (PROTOCOL §7.8): containerd.runc.v1.CheckpointOptions, or the
 * legacy containerd.linux.runc.CheckpointOptions some clients send, decoded to one shape. Absent
 * options mean "leave the container running" (exit = false), as runc's default dump does not.
 */
import { runcOptions, runctypes, type wellKnown } from '../../proto';
import { ShimError } from '../util/errors';

/** What the init's checkpoint needs from the options. */
export interface CheckpointOptions {
  exit: boolean;
  openTcp: boolean;
  externalUnixSockets: boolean;
  terminal: boolean;
  fileLocks: boolean;
  emptyNamespaces: string[];
  workPath: string;
}

/** Decodes the options Any (or null). Unknown types are InvalidArgument. */
export function decodeCheckpointOptions(any: wellKnown.Any.$Properties | null): CheckpointOptions {
  const none: CheckpointOptions = { exit: false, openTcp: false, externalUnixSockets: false, terminal: false, fileLocks: false, emptyNamespaces: [], workPath: '' };
  const url = (any?.typeUrl ?? '').replace(/^.*\//, '');
  if (!any || url === '') return none;
  const value = any.value ?? new Uint8Array(0);
  try {
    if (url === 'containerd.runc.v1.CheckpointOptions') {
      const o = runcOptions.CheckpointOptions.decode(value);
      return { exit: o.exit, openTcp: o.openTcp, externalUnixSockets: o.externalUnixSockets, terminal: o.terminal, fileLocks: o.fileLocks, emptyNamespaces: [...o.emptyNamespaces], workPath: o.workPath };
    }
    if (url === 'containerd.linux.runc.CheckpointOptions') {
      const o = runctypes.CheckpointOptions.decode(value);
      return { exit: o.exit, openTcp: o.openTcp, externalUnixSockets: o.externalUnixSockets, terminal: o.terminal, fileLocks: o.fileLocks, emptyNamespaces: [...o.emptyNamespaces], workPath: o.workPath };
    }
  } catch (err) {
    throw new ShimError('invalidArgument', `cannot decode checkpoint options ${any.typeUrl ?? ''}: ${(err as Error).message}`);
  }
  throw new ShimError('invalidArgument', `unsupported checkpoint options type ${any.typeUrl ?? ''}`);
}
