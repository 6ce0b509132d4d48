/**
 * Starting a spare daemon (spare.ts) from the Node `start` action, when no spare took the task.
 * After a spare is adopted, the shell entry point starts the next one itself (it is told `next`).
 *
 * Loaded on the start path: node built-ins only.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync, utimesSync } from 'node:fs';

/** A spawn lock this old belongs to a spare that never came up. */
const SPAWN_LOCK_MS = 5000;

/** TSRUNC_SPARE=0 turns spares off (every `start` spawns its daemon). */
export function sparesEnabled(env: NodeJS.ProcessEnv): boolean {
  return env['TSRUNC_SPARE'] !== '0' && Boolean(env['TTRPC_ADDRESS']);
}

/**
 * Starts the next spare, detached (its own session), from `start` — so it runs in containerd's
 * cgroup and with its oom score, never in a pod's cgroup that a daemon was moved into.
 */
export function spawnSpare(prefix: string, script: string, nodeOptions: readonly string[]): void {
  // One spawn at a time: in a burst, every `start` finds no spare while the first new one boots.
  // The spare removes the lock once its door is open; a lock older than SPAWN_LOCK_MS is a spare that died.
  const lock = `${prefix}.lock`;
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch {
    try {
      if (Date.now() - statSync(lock).mtimeMs < SPAWN_LOCK_MS) return;
      utimesSync(lock, new Date(), new Date());
    } catch {
      return;
    }
  }
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
