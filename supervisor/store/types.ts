/**
 * The supervisor's persistent records: one per container, holding its task's state and, while a
 * task exists, how to reach its shim again (the bootstrap reply of `start`).
 *
 * Times are ISO-8601 strings (millisecond precision). Part 2 features have room here: the restart
 * policy, the logging configuration (rotation flags), labels.
 */

import type { ResourceLimits } from '../shims/resources';

/**
 * A container's lifecycle state as the supervisor records it.
 *   creating — the record exists, the task is being created (a crash here is cleaned up at restart)
 *   created  — the task exists, not started
 *   running  — the task's init runs
 *   stopped  — the init exited (or its shim died); the task is deleted, the record stays
 *   removing — being removed (a crash here is finished at restart)
 */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'removing';

/** Every status, for exhaustive tables. */
export const CONTAINER_STATUSES: readonly ContainerStatus[] = ['creating', 'created', 'running', 'stopped', 'removing'];

/** How the daemon reaches a task's shim; saved so a restarted daemon reconnects. */
export interface ShimRecord {
  /** `unix:///…` as `start` printed it (or the JSON reply's address). */
  readonly address: string;
  /** Bootstrap protocol version: 2 → containerd.task.v2.Task, 3 → containerd.task.v3.Task. */
  readonly version: 2 | 3;
  readonly protocol: 'ttrpc';
  /** The shim binary that was started (absolute path), for the `delete` action. */
  readonly binary: string;
}

/** What to do when the container exits: `no`, `on-failure` (at most maxRetries times when > 0), `always`. */
export interface RestartPolicy {
  readonly name: string;
  readonly maxRetries: number;
}

/** Output capture limits: bytes per file, files kept (the current one included). */
export interface LogConfig {
  readonly maxSize: number;
  readonly maxFiles: number;
}

/** One container. */
export interface ContainerRecord {
  /** Record format version. */
  readonly schema: 1;
  readonly id: string;
  readonly name: string;
  /** The shim namespace of its tasks. */
  readonly namespace: string;
  /** The runtime as asked for, and the shim binary it resolved to. */
  readonly runtime: string;
  readonly runtimeBinary: string;
  /** The task bundle the daemon made (config.json, rootfs/, log FIFO). */
  readonly bundle: string;
  /** The root filesystem (absolute). */
  readonly rootfs: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly autoRemove: boolean;
  readonly restartPolicy: RestartPolicy;
  /** Where the captured output is (`container.log`, `.1`, …). */
  readonly logDir: string;
  readonly logConfig: LogConfig;

  status: ContainerStatus;
  /** The init's pid while a task exists (0 before Create returned). */
  pid: number;
  startedAt?: string | undefined;
  exitStatus?: number | undefined;
  exitedAt?: string | undefined;
  /** Set while a task (and its shim) exists. */
  shim?: ShimRecord | undefined;
  /** Why the last task ended abnormally (shim died, daemon restarted during create…). */
  error?: string | undefined;
  oomKilled?: boolean | undefined;
  /** Resource limits given at create or by the last update (absent: none). */
  resources?: ResourceLimits | undefined;
  /** The init has a terminal (its output goes to the logs all the same). */
  terminal?: boolean | undefined;
  /** The init's stdin is a FIFO the daemon holds (`<bundle>/stdin`), for attach. */
  stdin?: boolean | undefined;
  /** True while the running task is frozen (pause); cleared by resume and by its exit. */
  paused?: boolean | undefined;
  /** Restarts by the restart policy so far. */
  restartCount?: number | undefined;
  /** Restarts in a row without a task that ran long enough (the backoff's exponent). */
  restartStreak?: number | undefined;
  /** Set while a restart waits for its backoff: when it is due (survives a daemon restart). */
  restartAt?: string | undefined;
  /** `stop` or `rm` ended the container: its restart policy no longer applies. */
  manualStop?: boolean | undefined;
  /** Incremented on every save. */
  revision: number;
}

/** True for the statuses in which a task (and so a shim) is expected to exist. */
export function hasTask(status: ContainerStatus): boolean {
  switch (status) {
    case 'created':
    case 'running':
      return true;
    case 'creating':
    case 'stopped':
    case 'removing':
      return false;
  }
}
