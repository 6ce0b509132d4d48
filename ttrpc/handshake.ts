/**
 * Connection handshakes: a hook the server runs on every accepted socket before reading a single byte. It may
 * refuse the connection (throw: the socket is destroyed without any frame) and may return the peer's
 * credentials, which then reach every call's context.
 *
 * `requireSameUser` is the Go shim's `UnixSocketRequireSameUser`: the peer's uid and gid (SO_PEERCRED, taken at
 * connect time) must equal ours. Node cannot read SO_PEERCRED itself, so the reader is injected (native/
 * provides the real one; tests a fake).
 */
import type * as net from 'node:net';
import { HandshakeError } from './errors';

/** Credentials of the process at the other end of a unix socket, as SO_PEERCRED reports them. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** Reads SO_PEERCRED of a socket fd; throws on failure. */
export type PeerCredentialsReader = (fd: number) => PeerCredentials;

/**
 * A server handshake. Runs before any byte is read from `socket`; throwing (or rejecting) refuses the
 * connection. It must not read from or write to the socket. A returned PeerCredentials becomes `ctx.peer`.
 */
export type Handshake = (socket: net.Socket) => void | PeerCredentials | Promise<void | PeerCredentials>;

/** The kernel fd of a connected net.Socket. Node does not expose it; this is the one place that reaches for it. */
export function socketFd(socket: net.Socket): number {
  // `_handle` is Node's internal libuv wrapper (a Pipe for unix sockets); only its numeric `fd` is used.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new HandshakeError('ttrpc: cannot get the fd of the connection');
  return fd;
}

/**
 * A handshake admitting only peers whose uid and gid equal `expected` (default: this process's effective
 * uid and gid, as Go's `UnixSocketRequireSameUser`). The peer's credentials become `ctx.peer`.
 */
export function requireSameUser(getPeerCred: PeerCredentialsReader, expected?: { uid: number; gid: number }): Handshake {
  const want = expected ?? currentUser();
  return (socket) => {
    let cred: PeerCredentials;
    try {
      cred = getPeerCred(socketFd(socket));
    } catch (err) {
      throw new HandshakeError('ttrpc: failed to retrieve socket peer credentials', { cause: err });
    }
    if (cred.uid !== want.uid || cred.gid !== want.gid) {
      throw new HandshakeError(
        `ttrpc: invalid credentials: peer uid ${cred.uid} gid ${cred.gid} (pid ${cred.pid}), want uid ${want.uid} gid ${want.gid}`,
      );
    }
    return cred;
  };
}

function currentUser(): { uid: number; gid: number } {
  if (process.geteuid === undefined || process.getegid === undefined) {
    throw new HandshakeError('ttrpc: requireSameUser needs a POSIX platform');
  }
  return { uid: process.geteuid(), gid: process.getegid() };
}
