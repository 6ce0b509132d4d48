/**
 * The `start` side of the spare daemon (spare.ts): find the idle, pre-started shim process kept for
 * this containerd, hand it the task (it binds the task's socket and becomes that task's daemon —
 * still one process per task or group), and start the next spare in the background.
 *
 * A Node process needs ~60 ms to boot and load the daemon's code; Go's shim ~4 ms. A spare pays
 * that before containerd asks, so `start` only waits for a bind. Anything unexpected — no spare,
 * a busy one, a refusal, a reply that is late — falls back to spawning the daemon as before.
 *
 * Loaded on the start path: node built-ins only.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, statSync, utimesSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SOCKET_DIR } from './socket';

/** What `start` sends: one JSON line. */
export interface AdoptRequest {
  namespace: string;
  id: string;
  /** containerd's address (a bare path). */
  address: string;
  publishBinary: string;
  /** The task's socket, `unix:///run/containerd/s/…`. */
  socket: string;
  debug: boolean;
  /** The bundle: the daemon's working directory until it serves. */
  cwd: string;
  /** `start`'s environment (TTRPC_ADDRESS, GRPC_ADDRESS, NAMESPACE, …), which the daemon adopts. */
  env: Record<string, string>;
}

/** The spare's answer: it serves the task now (`pid`), or the socket is another live shim's. */
export type AdoptReply = { pid: number } | { inUse: true } | { error: string };

/** How long `start` waits for a spare to bind before spawning a daemon itself. */
const ADOPT_TIMEOUT_MS = 1000;
/** A spawn lock this old belongs to a spare that never came up. */
const SPAWN_LOCK_MS = 5000;

/** TSRUNC_SPARE=0 turns spares off (every `start` spawns its daemon). */
export function sparesEnabled(env: NodeJS.ProcessEnv): boolean {
  return env['TSRUNC_SPARE'] !== '0' && Boolean(env['TTRPC_ADDRESS']);
}

/**
 * The spare's control socket: one per containerd (its gRPC and ttrpc addresses), per build of the
 * shim (the entry script and its mtime) and per Node binary, so a spare never serves a task with
 * other code or for another containerd.
 */
export function sparePath(address: string, ttrpcAddress: string, script: string): string {
  let mtime = 0;
  try {
    mtime = statSync(script).mtimeMs;
  } catch {
    // the script is always there; a missing one only changes the key
  }
  const key = [address, ttrpcAddress, script, mtime, process.execPath, process.version].join('\0');
  return join(SOCKET_DIR, `tsrunc-spare-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`);
}

/** Asks the spare at `path` to take the task; `undefined` when there is none or it cannot. */
export function adopt(path: string, request: AdoptRequest, timeoutMs = ADOPT_TIMEOUT_MS): Promise<AdoptReply | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    let data = '';
    const done = (reply: AdoptReply | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('utf8');
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      try {
        done(JSON.parse(data.slice(0, nl)) as AdoptReply);
      } catch {
        done(undefined);
      }
    });
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
  });
}

/**
 * Starts the next spare, detached (its own session), from `start` — so it runs in containerd's
 * cgroup and with its oom score, never in a pod's cgroup that a daemon was moved into.
 */
export function spawnSpare(path: string, script: string, nodeOptions: readonly string[]): void {
  // One spawn at a time: in a burst, every `start` finds no spare while the first new one boots.
  // The spare removes the lock once it listens; a lock older than SPAWN_LOCK_MS is a spare that died.
  const lock = `${path}.lock`;
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
  const args = [...process.execArgv, ...nodeOptions, script, '-control', path, 'spare', ' '.repeat(400)];
  try {
    const child = spawn(process.execPath, args, { cwd: '/', env: process.env, stdio: 'ignore', detached: true });
    child.on('error', () => undefined); // no spare: the next start spawns its daemon itself
    child.unref();
  } catch {
    // as above
  }
}
