/**
 * What the task manager's parts share (create.ts, recovery.ts and the manager itself): the store,
 * the shims, the exchange, the per-container queue and exit latches, and the few operations that
 * every part needs. An interface, so the parts do not import the manager (no cycles).
 */
import type { Native } from '../../native';
import type { DaemonConfig } from '../config';
import type { Exchange } from '../events/exchange';
import type { ShimManager } from '../shims/manager';
import type { Shim } from '../shims/shim';
import type { Store } from '../store/store';
import type { ContainerRecord } from '../store/types';
import type { KeyedQueue } from '../util/keyed-queue';
import type { Logger } from '../util/log';
import type { ExitLatches } from './exit-latch';
import type { StdinFifos } from './stdin';

/** An exit, however it was learnt. */
export interface ExitInfo {
  readonly status: number;
  readonly at: Date;
  readonly pid?: number;
  /** Set when the task ended abnormally (shim died…): recorded as the container's error. */
  readonly reason?: string;
  /** Publish /tasks/exit and /tasks/delete ourselves (the shim could not: it is dead). */
  readonly publish?: boolean;
}

/** The shared state and operations. */
export interface TaskInternals {
  readonly config: DaemonConfig;
  readonly store: Store;
  readonly shims: ShimManager;
  readonly exchange: Exchange;
  readonly exits: ExitLatches;
  readonly queue: KeyedQueue;
  /** The stdin FIFOs the daemon holds for containers started with stdin open. */
  readonly stdins: StdinFifos;
  readonly native: Pick<Native, 'mkfifo'>;
  readonly log: Logger;
  /** Applies an exit (synchronously; false when the container was not running). Queues the task's teardown. */
  applyExit(id: string, exit: ExitInfo): boolean;
  /** Waits (through the shim) for the init's exit in the background and applies it. */
  watchExit(id: string, shim: Shim): void;
  /** Deletes the task and lets its shim go (or cleans up after a dead one); clears `record.shim`. Call in the queue. */
  teardownTask(record: ContainerRecord): Promise<void>;
  /** Records the restart a stopped, torn-down task's policy asks for, without arming its timer (the caller does). Call in the queue. */
  planRestart(id: string): number | undefined;
  /** Removes a container; call in the queue. */
  removeLocked(id: string, force: boolean): Promise<ContainerRecord>;
  /** Publishes one of our own container events (/containers/create, /containers/delete). */
  publishContainerEvent(topic: string, record: ContainerRecord): void;
}
