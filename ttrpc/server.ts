/**
 * The ttrpc Server: a service table plus the listeners and connections serving it.
 *
 * Listeners: a socket path it binds itself, an inherited listening fd (`{ fd: 3 }`, the shim daemon), or a
 * net.Server created elsewhere. Every accepted socket stays paused until the handshake hook (if any) accepted
 * it; a refused socket is destroyed without a byte read or written.
 *
 * Two ways to stop, both idempotent: `shutdown()` stops accepting, lets in-flight calls finish and closes each
 * connection once idle; `close()` stops everything at once, abandoning in-flight calls.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { ServerClosedError, errorMessage } from './errors';
import type { Handshake, PeerCredentials } from './handshake';
import { ServiceRegistry } from './registry';
import { ServerConnection, type CallContext } from './server-connection';
import type { AnyServiceDefinition, ServiceImplementation } from './service';
import { tracer } from './trace';

const trace = tracer('server');

/** Server options. */
export interface ServerOptions {
  /** Runs on each accepted socket before anything is read; throw to refuse the connection. */
  readonly handshake?: Handshake;
  /**
   * Runs after each call's response is handed to the socket: a hook for housekeeping between calls,
   * such as a garbage collection once calls stop coming. Must not throw.
   */
  readonly onAnswered?: () => void;
}

/**
 * Where to serve:
 *  - `{ path }`: bind a unix socket at `path`. Closing the server removes the socket file unless
 *    `unlinkOnClose: false`.
 *  - `{ fd }`: an inherited listening socket (e.g. fd 3 passed by the shim's `start`); never unlinked here.
 *  - a net.Server, listening or about to listen; closed with the server (Node unlinks a path it bound itself).
 */
export type ListenTarget = { readonly path: string; readonly unlinkOnClose?: boolean } | { readonly fd: number } | net.Server;

/** Server events: `error` (a listener failed; only emitted if someone listens), `refused` (handshake threw). */
export interface ServerEvents {
  error: [err: Error];
  refused: [err: unknown, socket: net.Socket];
}

interface Listener {
  readonly server: net.Server;
  /** Socket file to keep when closing (libuv unlinks a path it bound when the handle closes). */
  readonly keepPath: string | undefined;
}

type ServerState = 'serving' | 'shutting-down' | 'closed';

/** A ttrpc server. */
export class Server extends EventEmitter<ServerEvents> {
  private readonly registry = new ServiceRegistry<CallContext>();
  private readonly netServers: Listener[] = [];
  private readonly connections = new Set<ServerConnection>();
  private readonly handshaking = new Set<net.Socket>();
  private state: ServerState = 'serving';
  private listenersClosed: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;

  constructor(private readonly options: ServerOptions = {}) {
    super();
  }

  /**
   * Serves `implementation` as `definition.name`. Throws DuplicateServiceError if that name is registered
   * already; to serve one implementation under a second name, register `renameService(definition, name)`.
   */
  register<D extends AnyServiceDefinition>(definition: D, implementation: ServiceImplementation<D, CallContext>): this {
    this.registry.register(definition, implementation);
    return this;
  }

  /** Names of the registered services. */
  get services(): string[] {
    return this.registry.names();
  }

  /** Number of accepted connections currently open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts serving on `target`; resolves once listening. May be called for several listeners. */
  async listen(target: ListenTarget): Promise<void> {
    if (this.state !== 'serving') throw new ServerClosedError();
    if (target instanceof net.Server) {
      // pauseOnConnect is read by net.Server on each accept; set it so no byte is read before the handshake.
      (target as net.Server & { pauseOnConnect: boolean }).pauseOnConnect = true;
      this.attach({ server: target, keepPath: undefined });
      return;
    }
    const server = net.createServer({ pauseOnConnect: true });
    let listener: Listener;
    if ('path' in target) {
      await listenOn(server, { path: target.path });
      listener = { server, keepPath: target.unlinkOnClose === false ? target.path : undefined };
    } else {
      await listenOn(server, { fd: target.fd });
      listener = { server, keepPath: undefined };
    }
    if (this.state !== 'serving') {
      await closeListener(listener); // shut down or closed while binding
      throw new ServerClosedError();
    }
    this.attach(listener);
  }

  /**
   * Graceful stop: no new connections; in-flight calls finish and get their responses; each connection is
   * closed once idle. Resolves when every connection and listener is closed. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    this.state = 'shutting-down';
    trace('shutdown: %d connection(s)', this.connections.size);
    const listeners = this.closeListeners();
    this.dropHandshakes();
    for (const conn of this.connections) conn.shutdown();
    this.shutdownPromise = Promise.all([listeners, ...[...this.connections].map((c) => c.closed)]).then(() => {
      this.state = 'closed';
    });
    return this.shutdownPromise;
  }

  /** Forced stop: listeners and connections closed at once; in-flight calls are abandoned. Idempotent. */
  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.state = 'closed';
    trace('close: %d connection(s)', this.connections.size);
    const listeners = this.closeListeners();
    this.dropHandshakes();
    const reason = new ServerClosedError();
    for (const conn of this.connections) conn.destroy(reason);
    this.closePromise = Promise.all([listeners, ...[...this.connections].map((c) => c.closed)]).then(() => undefined);
    return this.closePromise;
  }

  private attach(listener: Listener): void {
    this.netServers.push(listener);
    listener.server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    listener.server.on('error', (err) => {
      trace('listener error: %s', err.message);
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  private onConnection(socket: net.Socket): void {
    // Never let a socket error go unhandled (EPIPE / ECONNRESET are ordinary connection ends).
    socket.on('error', (err) => trace('socket error: %s', err.message));
    if (this.state !== 'serving') {
      socket.destroy();
      return;
    }
    const handshake = this.options.handshake;
    if (handshake === undefined) {
      this.accept(socket, undefined);
      return;
    }
    this.handshaking.add(socket);
    void this.runHandshake(handshake, socket);
  }

  /** Never rejects: a failed handshake destroys the socket and emits 'refused'. */
  private async runHandshake(handshake: Handshake, socket: net.Socket): Promise<void> {
    let peer: PeerCredentials | undefined;
    try {
      peer = (await handshake(socket)) ?? undefined;
    } catch (err) {
      this.handshaking.delete(socket);
      socket.destroy();
      trace('handshake refused the connection: %s', errorMessage(err));
      this.emit('refused', err, socket);
      return;
    }
    this.handshaking.delete(socket);
    if (this.state !== 'serving' || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.accept(socket, peer);
  }

  private accept(socket: net.Socket, peer: PeerCredentials | undefined): void {
    const conn = new ServerConnection(socket, this.registry, peer, this.options.onAnswered);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
  }

  private dropHandshakes(): void {
    for (const socket of this.handshaking) socket.destroy();
    this.handshaking.clear();
  }

  private closeListeners(): Promise<void> {
    this.listenersClosed ??= Promise.all(this.netServers.map(closeListener)).then(() => undefined);
    return this.listenersClosed;
  }
}

function listenOn(server: net.Server, options: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Closes a listener; resolves when it and all its connections are closed. */
function closeListener({ server, keepPath }: Listener): Promise<void> {
  return new Promise((resolve) => {
    const restore = keepPath !== undefined && server.listening ? preserveSocketFile(keepPath) : undefined;
    // The callback fires once every connection of this listener is closed (or at once with an error when
    // the listener was not listening): either way it is closed.
    server.close(() => resolve());
    restore?.();
  });
}

/**
 * libuv unlinks a socket path it bound when the listening handle closes (synchronously, inside close()).
 * To keep the file, hard-link it aside before the close and rename it back right after.
 */
function preserveSocketFile(path: string): () => void {
  const aside = `${path}.keep-${process.pid}`;
  try {
    fs.linkSync(path, aside);
  } catch (err) {
    trace('cannot keep socket file %s: %s', path, errorMessage(err));
    return () => undefined;
  }
  return () => {
    try {
      fs.renameSync(aside, path);
    } catch (err) {
      trace('cannot restore socket file %s: %s', path, errorMessage(err));
    }
  };
}
