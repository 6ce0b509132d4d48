/**
 * Restart policies, docker's: `no`, `on-failure[:N]` (a non-zero exit, at most N restarts when N > 0),
 * `always`. The decision and the backoff are pure functions of the record; the scheduling is in
 * restarter.ts.
 *
 * Backoff: 100 ms before the first restart, doubling for each restart in a row, capped at 10 s; a
 * task that ran for at least 10 s starts the series again (docker's rule).
 */
import { ErrdefsError } from '../../proto/errdefs';
import type { ContainerRecord, RestartPolicy } from '../store/types';

export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 10_000;
/** A task that ran this long resets the backoff. */
export const RESET_AFTER_MS = 10_000;

const NAMES = new Set(['no', 'on-failure', 'always']);

/** Parses `no`, `always`, `on-failure`, `on-failure:N`. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const [name = '', count, ...rest] = text.split(':');
  if (!NAMES.has(name) || rest.length > 0 || (count !== undefined && name !== 'on-failure')) {
    throw new ErrdefsError('invalidArgument', `invalid restart policy ${JSON.stringify(text)}: use no, always, on-failure or on-failure:N`);
  }
  if (count === undefined) return { name, maxRetries: 0 };
  if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 1_000_000) throw new ErrdefsError('invalidArgument', `invalid restart count in ${JSON.stringify(text)}: a positive integer`);
  return { name, maxRetries: Number(count) };
}

/** The policy as docker prints it. */
export function formatRestartPolicy(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maxRetries > 0 ? `on-failure:${p.maxRetries}` : p.name;
}

/** Whether a container that just stopped with `exitStatus` is to be restarted. */
export function shouldRestart(r: Pick<ContainerRecord, 'restartPolicy' | 'restartCount' | 'manualStop' | 'autoRemove'>, exitStatus: number): boolean {
  if (r.manualStop === true || r.autoRemove) return false;
  switch (r.restartPolicy.name) {
    case 'always':
      return true;
    case 'on-failure':
      return exitStatus !== 0 && (r.restartPolicy.maxRetries === 0 || (r.restartCount ?? 0) < r.restartPolicy.maxRetries);
    default:
      return false;
  }
}

/** Restarts in a row, counting this one: 1 after a task that ran long enough, else one more. */
export function nextStreak(r: Pick<ContainerRecord, 'restartStreak' | 'startedAt' | 'exitedAt'>): number {
  const ran = r.startedAt !== undefined && r.exitedAt !== undefined ? Date.parse(r.exitedAt) - Date.parse(r.startedAt) : 0;
  return ran >= RESET_AFTER_MS ? 1 : (r.restartStreak ?? 0) + 1;
}

/** The wait before the `streak`-th restart in a row. */
export function backoffMs(streak: number): number {
  return Math.min(BACKOFF_FIRST_MS * 2 ** Math.max(0, Math.min(streak - 1, 20)), BACKOFF_MAX_MS);
}
