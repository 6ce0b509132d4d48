/**
 * What a restarted daemon does with each record it finds (the decisions; the task manager carries
 * them out, each in the container's queue):
 *
 *   creating                  → undo: a create was in flight when the daemon died; its client saw
 *                               the failure, so the half-made task is deleted and the record dropped
 *   created/running + shim    → reattach: reconnect and probe; alive → learn its state (an exit that
 *                               happened meanwhile is applied now); dead → `delete`, exit recorded
 *   created/running, no shim  → lost: cannot happen unless the record was edited; marked stopped
 *   stopped + shim            → finish: the task's deletion was interrupted; finish it, then
 *                               apply the restart policy (the daemon died before it could)
 *   stopped (auto-remove)     → remove
 *   removing                  → remove: finish the interrupted removal
 *   stopped                   → nothing, but the restart policy: a restart it asks for and the
 *                               daemon had not scheduled yet is scheduled now
 */
import type { ContainerRecord } from '../store/types';

/** The recovery step for one record. */
export type RecoveryAction = 'undo-create' | 'reattach' | 'lost' | 'finish-task' | 'remove' | 'none';

/** Decides what to do with `record` at daemon start. */
export function recoveryAction(record: ContainerRecord): RecoveryAction {
  switch (record.status) {
    case 'creating':
      return 'undo-create';
    case 'created':
    case 'running':
      return record.shim === undefined ? 'lost' : 'reattach';
    case 'stopped':
      if (record.shim !== undefined) return 'finish-task';
      return record.autoRemove ? 'remove' : 'none';
    case 'removing':
      return 'remove';
  }
}
