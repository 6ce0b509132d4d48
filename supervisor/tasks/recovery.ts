/**
 * A restarted daemon catching up with one record (shims/recover.ts decides what to do; this carries
 * it out, inside the container's queue): reattach to a live shim and learn its task's state — an
 * exit that happened while we were down is applied now —, clean up after a dead one with `delete`
 * (its exit, 137, recorded and published), finish an interrupted create, teardown or removal.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { taskTypes } from '../../proto/index';
import { fromTimestamp } from '../../proto/time';
import { keepSpec, keptSpecPath, readBundleSpec } from '../shims/bundle';
import { recoveryAction } from '../shims/recover';
import type { ContainerRecord } from '../store/types';
import { undoCreate } from './create';
import type { TaskInternals } from './internals';
import { errorMessage } from '../util/log';

/** Recovers the record `id`. Call in its queue. */
export async function recoverOne(t: TaskInternals, id: string): Promise<void> {
  const record = t.store.find(id);
  if (record === undefined) return;
  const action = recoveryAction(record);
  t.log.info('recovering', { id, name: record.name, status: record.status, action });
  keepSpecOnce(t, record);
  switch (action) {
    case 'undo-create':
      await undoCreate(t, record);
      return;
    case 'reattach':
      await reattach(t, record);
      return;
    case 'lost':
      t.applyExit(id, { status: 255, at: new Date(), reason: 'no shim recorded for a running task' });
      return;
    case 'finish-task':
      await finishTeardown(t, record);
      if (record.autoRemove) await t.removeLocked(id, true);
      else resumeRestartPolicy(t, id);
      return;
    case 'remove':
      // a removal the daemon died in before its shim let go of the task: through the shim, as
      // for a stopped task (removeLocked alone would find no shim attached and run `delete`
      // beside the live one, which would run on)
      if (record.shim !== undefined) await finishTeardown(t, record);
      await t.removeLocked(id, true);
      return;
    case 'none':
      resumeRestartPolicy(t, id);
      return;
  }
}

/**
 * A container made before the daemon kept a copy of its spec beside its logs gets one now, while
 * its bundle is there: a restart after a reboot makes the bundle again from it (bundle.ts).
 */
function keepSpecOnce(t: TaskInternals, record: ContainerRecord): void {
  if (record.status === 'creating' || existsSync(keptSpecPath(record.logDir)) || !existsSync(join(record.bundle, 'config.json'))) return;
  try {
    keepSpec(record.logDir, readBundleSpec(record.bundle));
  } catch (err) {
    t.log.warn('could not keep a copy of the spec beside the logs', { id: record.id, err: errorMessage(err) });
  }
}

/**
 * An interrupted teardown, finished: a shim that still answers deletes the task and shuts down
 * (running `delete` beside a live shim would leave it running); a dead one, or one that fails to,
 * is cleaned with `delete`.
 */
async function finishTeardown(t: TaskInternals, record: ContainerRecord): Promise<void> {
  try {
    await t.shims.attach(record);
    await t.teardownTask(record);
  } catch (err) {
    t.log.warn('finishing the teardown through the shim failed: cleaning up with delete', { id: record.id, err: errorMessage(err) });
    await t.shims.cleanupDead(record);
    t.store.update(record.id, (r) => {
      r.shim = undefined;
    });
  }
}

/**
 * A stopped task whose restart the daemon had not yet scheduled when it died — it is scheduled
 * when the exit's teardown ends, and the teardown (the shim's Delete and Shutdown) takes tens of
 * milliseconds — gets it now: a restart policy outlives the daemon (docker, too, restarts
 * `always` containers when it starts; unlike docker, one stopped by hand stays stopped). The
 * restart is only recorded here; the daemon arms the timers of all recorded restarts once every
 * record is recovered (TaskManager.recover). Nothing to do when one is pending already
 * (`restartAt`) or the policy says no (stopped by hand, auto-remove, on-failure's count spent).
 */
function resumeRestartPolicy(t: TaskInternals, id: string): void {
  if (t.store.find(id)?.restartAt === undefined) t.planRestart(id);
}

/** A task whose shim may still run: reattach and learn its state, or clean up after it. */
async function reattach(t: TaskInternals, record: ContainerRecord): Promise<void> {
  const shim = await t.shims.attach(record);
  if (shim === undefined) {
    const result = await t.shims.cleanupDead(record);
    t.store.update(record.id, (r) => {
      r.shim = undefined;
    });
    t.applyExit(record.id, { status: result.exitStatus, at: result.exitedAt, pid: result.pid, reason: 'shim exited while the daemon was down', publish: true });
    return;
  }
  const state = await shim.state(record.id);
  if (state.status === taskTypes.Status.STOPPED) {
    t.applyExit(record.id, { status: state.exitStatus, at: fromTimestamp(state.exitedAt), pid: state.pid });
    return;
  }
  if (record.status === 'created' && state.status !== taskTypes.Status.CREATED) {
    t.store.update(record.id, (r) => {
      r.status = 'running';
      r.pid = state.pid;
      r.startedAt ??= new Date().toISOString();
    });
  }
  t.store.update(record.id, (r) => {
    r.paused = state.status === taskTypes.Status.PAUSED || state.status === taskTypes.Status.PAUSING ? true : undefined;
  });
  t.watchExit(record.id, shim);
}
