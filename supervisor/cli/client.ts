/**
 * The CLI's client of the daemon: grpc-js over the API's unix socket, typed from the generated
 * service definition. Every failure comes back as an ErrdefsError (api/status.ts), so commands print
 * one clear line; an unreachable daemon says so and names the socket.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrdefsError } from '../../proto/errdefs';
import { type GrpcMethod, SupervisorServiceDefinition, type SupervisorServiceMethods } from '../../proto/gen/supervisor.grpc';
import { fromGrpcStatus } from '../api/status';
import { type Paths, apiSocketProblem } from '../config';

type Unary = { [K in keyof SupervisorServiceMethods]: SupervisorServiceMethods[K] extends GrpcMethod<infer _Q, infer _S, false, false> ? K : never }[keyof SupervisorServiceMethods];
type Streaming = { [K in keyof SupervisorServiceMethods]: SupervisorServiceMethods[K] extends GrpcMethod<infer _Q, infer _S, false, true> ? K : never }[keyof SupervisorServiceMethods];
type Bidi = { [K in keyof SupervisorServiceMethods]: SupervisorServiceMethods[K] extends GrpcMethod<infer _Q, infer _S, true, true> ? K : never }[keyof SupervisorServiceMethods];
type Req<K extends keyof SupervisorServiceMethods> = SupervisorServiceMethods[K] extends GrpcMethod<infer R, infer _S, boolean, boolean> ? R : never;
type Res<K extends keyof SupervisorServiceMethods> = SupervisorServiceMethods[K] extends GrpcMethod<infer _Q, infer R, boolean, boolean> ? R : never;

/** A server stream being read: iterate it; `cancel()` stops it. */
export interface ServerStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

/** A bidirectional call: send messages, iterate the replies; `end()` half-closes, `cancel()` drops it. */
export interface DuplexStream<Q, S> extends AsyncIterable<S> {
  send(message: Q): void;
  end(): void;
  cancel(): void;
}

/** A connection to the daemon. */
export class SupervisorClient {
  private readonly client: grpc.Client;

  private constructor(private readonly paths: Paths) {
    this.client = new grpc.Client(`unix://${paths.apiSocket}`, grpc.credentials.createInsecure());
  }

  /** A client for the daemon of `paths`; Unavailable at once when its socket does not exist. */
  static connect(paths: Paths): SupervisorClient {
    switch (apiSocketProblem(paths)) {
      case 'missing':
        throw new ErrdefsError('unavailable', `cannot connect to the tsrunc daemon: no socket at ${paths.apiSocket} (is \`tsrunc daemon\` running with the same --root?)`);
      case 'denied':
        throw new ErrdefsError('permissionDenied', `permission denied: ${paths.apiSocket} is reachable by the daemon's user only`);
      case undefined:
        break;
    }
    return new SupervisorClient(paths);
  }

  /** A unary call. */
  call<K extends Unary>(method: K, request: Req<K>): Promise<Res<K>> {
    const def = SupervisorServiceDefinition[method] as unknown as GrpcMethod<Req<K>, Res<K>, false, false>;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, (err, response) => {
        if (err !== null) reject(this.toError(err));
        else if (response === undefined) reject(new ErrdefsError('internal', `${def.originalName}: empty response`));
        else resolve(response);
      });
    });
  }

  /** A server-streaming call. */
  stream<K extends Streaming>(method: K, request: Req<K>): ServerStream<Res<K>> {
    const def = SupervisorServiceDefinition[method] as unknown as GrpcMethod<Req<K>, Res<K>, false, true>;
    const call = this.client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, request);
    const toError = (err: unknown): Error => this.toError(err as grpc.ServiceError);
    return {
      cancel: () => call.cancel(),
      async *[Symbol.asyncIterator]() {
        try {
          for await (const message of call as AsyncIterable<Res<K>>) yield message;
        } catch (err) {
          if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
          throw toError(err);
        }
      },
    };
  }

  /** A bidirectional streaming call. */
  duplex<K extends Bidi>(method: K): DuplexStream<Req<K>, Res<K>> {
    const def = SupervisorServiceDefinition[method] as unknown as GrpcMethod<Req<K>, Res<K>, true, true>;
    const call = this.client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
    call.on('error', () => undefined); // surfaced by the iterator
    const toError = (err: unknown): Error => this.toError(err as grpc.ServiceError);
    return {
      send: (message) => {
        if (!call.writableEnded && !call.destroyed) call.write(message);
      },
      end: () => {
        if (!call.writableEnded) call.end();
      },
      cancel: () => call.cancel(),
      async *[Symbol.asyncIterator]() {
        try {
          for await (const message of call as AsyncIterable<Res<K>>) yield message;
        } catch (err) {
          if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
          throw toError(err);
        }
      },
    };
  }

  /** Closes the connection. */
  close(): void {
    this.client.close();
  }

  private toError(err: grpc.ServiceError): ErrdefsError {
    if (err.code === grpc.status.UNAVAILABLE) {
      return new ErrdefsError('unavailable', `cannot reach the tsrunc daemon at ${this.paths.apiSocket}: ${err.details}`);
    }
    return fromGrpcStatus(err);
  }
}
