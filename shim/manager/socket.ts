/**
 * The shim's socket: where it listens (PROTOCOL §3.1) and how it is created safely (§3.3).
 *
 *   unix:///run/containerd/s/<hex sha256(clean_join(containerd address, namespace, group key))>
 *
 * so `ctr shim --id X` and a restarted containerd find us exactly where they find Go's shim.
 * Filesystem sockets only — never the abstract namespace (CVE-2020-15257) — created under a umask
 * that makes the socket 0600 from the first instant, in a directory made 0600 as Go makes it.
 */
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import type { Native } from '../../native';
import { takeFileLock } from '../util/file-lock';
import { removeQuiet } from '../util/remove';
import { sha256Hex } from '../util/sha256';

/** containerd's compile-time default state dir: every containerd puts shim sockets here. */
export const SOCKET_DIR = '/run/containerd/s';

/** The address containerd and `ctr shim` expect for (address, namespace, group key). */
export function socketAddress(containerdAddress: string, namespace: string, key: string): string {
  return `unix://${join(SOCKET_DIR, sha256Hex(join(containerdAddress, namespace, key)))}`;
}

/** `unix:///path` → `/path`. An address without the scheme would be abstract: refused. */
export function socketPath(address: string): string {
  if (!address.startsWith('unix://')) throw new Error(`not a filesystem socket address: ${address}`);
  return address.slice('unix://'.length);
}

/** True when something accepts connections on `path` within `timeoutMs`. */
export function isListening(path: string, timeoutMs = 100): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const done = (live: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type Listener = { server: net.Server; fd: number } | { inUse: true };

/** How long a `start` waits for another that is replacing the same stale socket. */
const REPLACE_WAIT_MS = 2000;

/**
 * Listens on `path`. A live socket (another shim of the same group) is never stolen: the result is
 * `{ inUse: true }`. A stale one (nothing answers — a shim was SIGKILLed) is unlinked and replaced,
 * under a lock beside it (`<path>.lock`, flock: a holder killed holds up nobody): two `start`s of
 * one group that both meet the stale socket would otherwise both unlink it, the second one the
 * first one's new socket, and the group would get two daemons. The lock is only taken on this rare
 * path (a live socket, the usual case for a group, is answered before it), and with it koffi
 * (`native`), which `start` otherwise never loads.
 */
export async function listen(path: string, native: () => Pick<Native, 'tryLockExclusive'>): Promise<Listener> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o600 });
  try {
    return await bind(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
  }
  // the common case (every task of a pod after its first): a live shim serves the group — no lock
  if (await isListening(path)) return { inUse: true };
  const release = takeFileLock(native(), `${path}.lock`, REPLACE_WAIT_MS);
  if (!release) throw new Error(`${path} is stale and another start is replacing it: gave up after ${REPLACE_WAIT_MS} ms`);
  try {
    // again under the lock: the socket may be a new one by now, made by whoever held it before us
    if (await isListening(path)) return { inUse: true };
    removeQuiet(path); // gone already: delete removed it
    return await bind(path);
  } finally {
    release();
  }
}

function bind(path: string): Promise<{ server: net.Server; fd: number }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    // Node binds a pipe synchronously inside listen(): under this umask the socket is 0600 from
    // creation (Node would make it 0755 and a chmod would come too late).
    const previous = process.umask(0o177);
    try {
      server.listen({ path, backlog: 1024 }, () => {
        const handle = (server as unknown as { _handle?: { fd?: number } })._handle;
      const fd = handle?.fd;
        if (typeof fd !== 'number' || fd < 0) {
          reject(new Error('listening socket has no fd'));
          return;
        }
        resolve({ server, fd });
      });
    } finally {
      process.umask(previous);
    }
  });
}
