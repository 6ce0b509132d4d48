/**
 * The ttrpc Client: one connection, many concurrent unary calls. Stream ids are odd and strictly increasing
 * (1, 3, 5, …); calls wait in a map by stream id; responses may arrive in any order. Deadlines are sent as
 * `timeout_nano` and enforced locally; a caller that gives up (deadline, AbortSignal) forgets the stream and
 * a late response is dropped, as in Go (ttrpc has no cancel frame).
 *
 * When the connection ends, for whatever reason, every pending call fails with a ClosedError and the client
 * emits 'close' once.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { decodeResponse, encodeRequest } from './codec';
import { DeadlineTimer, earliest, timeoutNanoFromDeadline } from './deadline';
import { ClosedError, ProtocolError, errorMessage } from './errors';
import { FrameType, MAX_MESSAGE_LENGTH, oversizeMessage } from './frame';
import { FrameReader } from './frame-reader';
import { FrameWriter } from './frame-writer';
import { Metadata, type MetadataInit } from './metadata';
import { methodsOf } from './registry';
import type { AnyServiceDefinition, ServiceClient } from './service';
import { CANCELLED_MESSAGE, Code, DEADLINE_EXCEEDED_MESSAGE, RpcError } from './status';
import { tracer } from './trace';

const trace = tracer('client');

/** Highest stream id a client may use (ids are u32). */
const MAX_STREAM_ID = 0xffffffff;

/**
 * Options of one call. A server's CallContext is a valid CallOptions: passing `ctx` on forwards its deadline,
 * metadata and cancellation.
 */
export interface CallOptions {
  /** Relative timeout in ms (combined with `deadline`: the earlier wins). */
  readonly timeout?: number | undefined;
  /** Absolute deadline in ms since the epoch. */
  readonly deadline?: number | undefined;
  /** Cancels the call (it fails with RpcError CANCELLED; the server is not told, as in Go). */
  readonly signal?: AbortSignal | undefined;
  /** Metadata sent with the call. */
  readonly metadata?: MetadataInit | undefined;
}

/** Options of `Client.connect`. */
export interface ConnectOptions {
  /** Give up connecting after this many ms (RpcError DEADLINE_EXCEEDED). */
  readonly timeout?: number | undefined;
  /** Give up connecting when aborted (RpcError CANCELLED). */
  readonly signal?: AbortSignal | undefined;
}

/** Client events: `close` once the connection is gone, with the reason. */
export interface ClientEvents {
  close: [reason: ClosedError];
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

/** A ttrpc client over one unix socket connection. */
export class Client extends EventEmitter<ClientEvents> {
  private readonly reader = new FrameReader();
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, PendingCall>();
  private nextStreamId = 1;
  private closeReason: ClosedError | undefined;
  private resolveClosed!: () => void;
  private readonly closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  /** Connects to a unix socket (`/path` or `unix:///path`); resolves once connected. */
  static connect(address: string, options: ConnectOptions = {}): Promise<Client> {
    const path = address.startsWith('unix://') ? address.slice('unix://'.length) : address;
    return new Promise((resolve, reject) => {
      const { signal, timeout } = options;
      if (signal?.aborted === true) {
        reject(cancelled(signal));
        return;
      }
      const socket = net.createConnection({ path });
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', fail);
        socket.off('connect', onConnect);
      };
      function fail(err: Error): void {
        cleanup();
        socket.destroy();
        reject(err);
      }
      function onAbort(): void {
        fail(cancelled(signal));
      }
      function onConnect(): void {
        cleanup();
        resolve(new Client(socket));
      }
      socket.once('error', fail);
      socket.once('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) timer = setTimeout(() => fail(new RpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE)), timeout);
    });
  }

  /** Wraps a connected (or connecting) socket. The client owns it from now on. */
  constructor(private readonly socket: net.Socket) {
    super();
    this.writer = new FrameWriter(socket);
    socket.on('error', (err) => this.terminate(new ClosedError(`ttrpc: connection error: ${err.message}`, { cause: err })));
    socket.on('end', () => this.terminate(new ClosedError('ttrpc: closed by the server')));
    socket.on('close', () => {
      this.terminate(new ClosedError());
      this.resolveClosed();
      this.emit('close', this.closeReason as ClosedError);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (socket.destroyed) {
      this.terminate(new ClosedError());
      if (socket.closed) this.resolveClosed(); // its 'close' event is gone already
    }
  }

  /** True once the connection is closed or closing. */
  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Calls waiting for their response. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /**
   * A raw unary call: `payload` is the encoded request message; resolves with the encoded response.
   * Rejects with RpcError (the server's status, or DEADLINE_EXCEEDED / CANCELLED / RESOURCE_EXHAUSTED
   * decided locally) or ClosedError.
   */
  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.closeReason !== undefined) {
        reject(new ClosedError(this.closeReason.message, { cause: this.closeReason.cause }));
        return;
      }
      const { signal } = options;
      if (signal?.aborted === true) {
        reject(cancelled(signal));
        return;
      }
      const now = Date.now();
      const deadline = earliest(options.deadline, options.timeout === undefined ? undefined : now + options.timeout);
      if (deadline !== undefined && deadline <= now) {
        reject(new RpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE));
        return;
      }
      const metadata = options.metadata === undefined ? [] : toMetadata(options.metadata).toKeyValues();
      const timeoutNano = deadline === undefined ? 0n : timeoutNanoFromDeadline(deadline, now);
      const data = encodeRequest({ service, method, payload, timeoutNano, metadata });
      if (data.length > MAX_MESSAGE_LENGTH) {
        reject(new RpcError(Code.RESOURCE_EXHAUSTED, oversizeMessage(data.length)));
        return;
      }
      if (this.nextStreamId > MAX_STREAM_ID) {
        reject(new ProtocolError('ttrpc: stream ids exhausted on this connection'));
        return;
      }
      const id = this.nextStreamId;
      this.nextStreamId += 2;

      let timer: DeadlineTimer | undefined;
      const onAbort = (): void => entry.reject(cancelled(signal));
      const settle = (): void => {
        this.pending.delete(id);
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      const entry: PendingCall = {
        resolve: (bytes) => {
          settle();
          resolve(bytes);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      this.pending.set(id, entry);
      if (deadline !== undefined) {
        timer = new DeadlineTimer(deadline, () => entry.reject(new RpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE)));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.writer.send(id, FrameType.Request, data);
    });
  }

  /** A typed stub: one `(request, options?) => Promise<response>` per method of `definition`. */
  service<D extends AnyServiceDefinition>(definition: D): ServiceClient<D, CallOptions> {
    const stub: Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>> = {};
    for (const [local, method] of methodsOf(definition)) {
      stub[local] = async (request, options) => {
        const payload = method.requestType.encode(request);
        const bytes = await this.call(definition.name, method.name, payload, options);
        try {
          const response: unknown = method.responseType.decode(bytes);
          return response;
        } catch (err) {
          throw new RpcError(Code.INTERNAL, `ttrpc: error unmarshalling payload: ${errorMessage(err)}`, { cause: err });
        }
      };
    }
    return stub as ServiceClient<D, CallOptions>;
  }

  /** Closes the connection; pending calls fail with ClosedError. Resolves once the socket is closed. Idempotent. */
  close(): Promise<void> {
    this.terminate(new ClosedError('ttrpc: client closed'));
    return this.closedPromise;
  }

  /** Lets the process exit while this client is idle (socket.unref). */
  unref(): this {
    this.socket.unref();
    return this;
  }

  /** Undoes `unref`. */
  ref(): this {
    this.socket.ref();
    return this;
  }

  private onData(chunk: Buffer): void {
    for (const event of this.reader.push(chunk)) {
      const { streamId, type, length } = event.header;
      if (type !== FrameType.Response) {
        trace('stream %d: ignoring frame of type %d (%d bytes)', streamId, type, length);
        continue;
      }
      const call = this.pending.get(streamId);
      if (call === undefined) {
        trace('stream %d: dropping response for a call no longer waiting', streamId);
        continue;
      }
      if (event.kind === 'oversize') {
        call.reject(new RpcError(Code.RESOURCE_EXHAUSTED, oversizeMessage(length)));
        continue;
      }
      let response;
      try {
        response = decodeResponse(event.payload);
      } catch (err) {
        call.reject(new RpcError(Code.INTERNAL, `ttrpc: unmarshal response error: ${errorMessage(err)}`, { cause: err }));
        continue;
      }
      if (response.status !== undefined && response.status.code !== 0 /* OK */) call.reject(RpcError.fromStatus(response.status));
      else call.resolve(response.payload);
    }
  }

  /** The connection is gone (or going): fail every pending call with `reason`. First reason wins. */
  private terminate(reason: ClosedError): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    trace('closing: %s', reason.message);
    this.writer.close();
    this.socket.destroy();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(new ClosedError(reason.message, { cause: reason.cause }));
  }
}

function toMetadata(init: MetadataInit): Metadata {
  return init instanceof Metadata ? init : new Metadata(init);
}

function cancelled(signal: AbortSignal | undefined): RpcError {
  return new RpcError(Code.CANCELLED, CANCELLED_MESSAGE, { cause: signal?.reason });
}
