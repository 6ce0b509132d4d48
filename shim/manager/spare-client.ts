/**
 * Starting a spare daemon (spare.ts) from the Node `start` action, when no spare took the task.
 * After a spare is adopted, the shell entry point starts the next one itself (it is told `next`).
 *
 * Loaded on the start path: node built-ins and door.ts only.
 */
import { spawn } from 'node:child_process';
import { hasLiveDoor, takeLock } from './door';
import { removeQuiet } from '../util/remove';

/**
 * The right to start the next spare for `prefix`: one at a time — in a burst, every `start` finds
 * no spare while the first new one boots. The spare removes the lock once its door is open (a
 * stale lock is a spare that died first).
 */
function takeSpawnLock(prefix: string): boolean {
  return takeLock(`${prefix}.lock`);
}

/**
 * True when the caller should start the next spare: there is none, and nobody else is starting one.
 * The lock first: a spare that opens its door meanwhile is then seen (it removes the lock after).
 */
export function claimNextSpare(prefix: string): boolean {
  if (!takeSpawnLock(prefix)) return false;
  if (!hasLiveDoor(prefix)) return true;
  removeQuiet(`${prefix}.lock`);
  return false;
}

/** TSRUNC_SPARE=0 turns spares off (every `start` spawns its daemon). */
export function sparesEnabled(env: NodeJS.ProcessEnv): boolean {
  return env['TSRUNC_SPARE'] !== '0' && Boolean(env['TTRPC_ADDRESS']);
}

/** The shared spare forks a daemon per task (spare.ts) unless TSRUNC_SPARE_FORK=0. */
export function forkingOn(env: NodeJS.ProcessEnv): boolean {
  return env['TSRUNC_SPARE_FORK'] !== '0';
}

/**
 * Starts the next spare, detached (its own session), from `start` — so it runs in containerd's
 * cgroup and with its oom score, never in a pod's cgroup that a daemon was moved into.
 */
export function spawnSpare(prefix: string, script: string, nodeOptions: readonly string[]): void {
  if (!takeSpawnLock(prefix)) return;
  // The padding leaves room in the argv area for the title the adopted daemon shows (spare.ts).
  const args = [...process.execArgv, ...nodeOptions, script, '-control', prefix, 'spare', ' '.repeat(400)];
  try {
    const child = spawn(process.execPath, args, { cwd: '/', env: process.env, stdio: 'ignore', detached: true });
    child.on('error', () => undefined); // no spare: the next start spawns its daemon itself
    child.unref();
  } catch {
    // as above
  }
}
