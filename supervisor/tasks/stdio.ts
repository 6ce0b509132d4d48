/**
 * What an attached client does to a container's init besides reading its output: write to its
 * stdin (the FIFO the daemon holds), close its stdin, resize its terminal (the shim's ResizePty).
 * Input to a container without an open stdin is dropped; a resize of one without a terminal is
 * ignored — an attached client need not know how the container was started.
 */
import type { Shim } from '../shims/shim';
import type { ContainerRecord } from '../store/types';
import { stdinPath } from './create';
import type { TaskInternals } from './internals';

/** The controls of one attached client. */
export interface TaskStdio {
  /** True when the init's stdin is open for input. */
  readonly hasStdin: boolean;
  readonly terminal: boolean;
  write(data: Uint8Array): Promise<void>;
  /** The client's input ended: the init reads EOF. */
  closeStdin(): Promise<void>;
  resize(width: number, height: number): Promise<void>;
}

/** The controls for the init of `record`, through `shim`. */
export function stdioOf(t: TaskInternals, shim: Shim, record: ContainerRecord): TaskStdio {
  const fifo = record.stdin === true ? t.stdins.get(record.id, stdinPath(record.bundle)) : undefined;
  const terminal = record.terminal === true;
  return {
    hasStdin: fifo !== undefined,
    terminal,
    write: (data) => fifo?.write(data) ?? Promise.resolve(),
    closeStdin: async () => {
      if (fifo === undefined || fifo.isClosed) return;
      t.stdins.close(record.id);
      await shim.closeStdin(record.id).catch((err: unknown) => t.log.debug('CloseIO failed', { id: record.id, err: String(err) }));
    },
    resize: async (width, height) => {
      if (!terminal || width === 0 || height === 0) return;
      await shim.resizePty(record.id, '', width, height).catch((err: unknown) => t.log.debug('ResizePty failed', { id: record.id, err: String(err) }));
    },
  };
}
