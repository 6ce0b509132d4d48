/**
 * The API server: grpc-js serving tsrunc.supervisor.v1.Supervisor on a unix socket (0600, in the
 * 0700 run directory), with a peer-credential check grpc-js cannot do itself: we accept connections
 * on our own net.Server (paused, nothing read), read SO_PEERCRED (native getPeerCred), destroy the
 * socket unless the peer runs as our uid, and only then hand it to grpc-js through its connection
 * injector (`Server.createConnectionInjector`). A refused client sees its connection closed.
 */
import { chmodSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { socketFd } from 'ttrpc-ts';
import type { Native } from '../../native';
import { SupervisorServiceDefinition } from '../../proto/gen/supervisor.grpc';
import { type Logger, errorMessage } from '../util/log';
import type { Handlers, StreamSink } from './handlers';
import { serviceError } from './status';

type UnaryHandler = (request: unknown) => Promise<unknown>;
type StreamHandler = (request: unknown, sink: StreamSink<unknown>) => Promise<void>;
type DuplexHandler = (requests: AsyncIterable<unknown>, sink: StreamSink<unknown>) => Promise<void>;

/** The gRPC API server. */
export class ApiServer {
  private readonly grpcServer = new grpc.Server();
  private readonly injector: grpc.ConnectionInjector;
  private readonly netServer: net.Server;
  private readonly closing = new AbortController();

  constructor(
    handlers: Handlers,
    native: Pick<Native, 'getPeerCred'>,
    private readonly log: Logger,
    private readonly uid: number = process.geteuid?.() ?? 0,
  ) {
    this.grpcServer.addService(SupervisorServiceDefinition, this.implementation(handlers));
    this.injector = this.grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.netServer = net.createServer({ pauseOnConnect: true }, (socket) => this.admit(socket, native));
    this.netServer.on('error', (err) => log.error('API listener error', { err }));
  }

  /** Listens on `path` (replacing a stale socket), created with mode 0600. */
  async listen(path: string): Promise<void> {
    rmSync(path, { force: true });
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.netServer.once('error', reject);
        this.netServer.listen(path, () => {
          this.netServer.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
  }

  /**
   * Stops: streams end, calls in flight get `graceMs` to finish, the socket is removed. The
   * listener stops accepting (and its socket file goes) at once; its close callback, which comes
   * only once every connection it accepted has closed, is waited for last: awaited first, one
   * client still attached or in an exec kept the daemon from stopping at all.
   */
  async shutdown(graceMs = 2_000): Promise<void> {
    this.closing.abort();
    const closed = new Promise<void>((resolve) => this.netServer.close(() => resolve()));
    this.injector.drain(graceMs);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.injector.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  private admit(socket: net.Socket, native: Pick<Native, 'getPeerCred'>): void {
    socket.on('error', (err) => this.log.debug('API connection error', { err: errorMessage(err) }));
    let peer: { pid: number; uid: number; gid: number };
    try {
      peer = native.getPeerCred(socketFd(socket));
    } catch (err) {
      this.log.warn('API connection refused: no peer credentials', { err: errorMessage(err) });
      socket.destroy();
      return;
    }
    if (peer.uid !== this.uid) {
      this.log.warn('API connection refused: peer runs as another user', { uid: peer.uid, pid: peer.pid });
      socket.destroy();
      return;
    }
    // resume() only schedules reading: grpc-js takes the socket over in this same tick
    socket.resume();
    this.injector.injectConnection(socket);
  }

  private implementation(handlers: Handlers): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [key, method] of Object.entries(SupervisorServiceDefinition) as [keyof Handlers, { requestStream: boolean; responseStream: boolean }][]) {
      const handler = handlers[key] as unknown;
      if (method.requestStream) impl[key] = this.duplex(handler as DuplexHandler);
      else impl[key] = method.responseStream ? this.streaming(handler as StreamHandler) : unary(handler as UnaryHandler);
    }
    return impl;
  }

  /** A bidirectional call: the client's messages as an async iterable, ours through the sink. */
  private duplex(handler: DuplexHandler): grpc.handleBidiStreamingCall<unknown, unknown> {
    return (call) => {
      const sink = this.sinkOf(call);
      const requests: AsyncIterable<unknown> = {
        [Symbol.asyncIterator]: () => (call as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator](),
      };
      Promise.resolve()
        .then(() => handler(requests, sink))
        .then(
          () => call.end(),
          (err: unknown) => call.emit('error', serviceError(err)),
        );
    };
  }

  /**
   * A call's sink. Its signal tells the handler to end: the client went away, or the daemon is
   * shutting down. Only a client that went away loses what is written: while the daemon shuts down
   * a handler still finishing (an exec whose process exits in the grace time) gets its last output
   * and its exit status through, though no longer waiting for the client to drain them.
   */
  private sinkOf(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): StreamSink<unknown> {
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    call.on('error', () => cancelled.abort());
    const signal = AbortSignal.any([cancelled.signal, this.closing.signal]);
    return {
      signal,
      write: (message) =>
        new Promise<void>((resolve) => {
          if (cancelled.signal.aborted || call.write(message) || signal.aborted) {
            resolve();
            return;
          }
          call.once('drain', resolve);
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
  }

  private streaming(handler: StreamHandler): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const sink = this.sinkOf(call);
      // a handler that throws synchronously is answered like one that rejects
      Promise.resolve(call.request)
        .then((request) => handler(request, sink))
        .then(
          () => call.end(),
          (err: unknown) => call.emit('error', serviceError(err)),
        );
    };
  }
}

function unary(handler: UnaryHandler): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    Promise.resolve(call.request)
      .then((request) => handler(request))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(serviceError(err)),
      );
  };
}
