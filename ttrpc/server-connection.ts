/**
 * One accepted connection of a Server: reads frames, validates stream ids, dispatches unary calls
 * concurrently, and writes every response through the connection's one FrameWriter.
 *
 * Two kinds of failure are kept apart (STYLE B.7):
 *  - reply with an error on this stream, connection kept: even stream id (INVALID_ARGUMENT), oversized frame
 *    (RESOURCE_EXHAUSTED, its data skipped), streaming flags (UNIMPLEMENTED), undecodable request
 *    (INVALID_ARGUMENT), unknown service/method (UNIMPLEMENTED), undecodable payload (INTERNAL), handler
 *    errors, deadline expiry (DEADLINE_EXCEEDED);
 *  - this connection is dead: a stream id not above the last one (`terminate`), EOF, a socket error.
 * Data frames (type 3), response frames and unknown types are skipped. Nothing here can throw into the
 * socket's event handlers: one bad peer never affects the server or other connections.
 */
import type * as net from 'node:net';
import { decodeRequest, encodeResponse, type ResponseEnvelope, type StatusMessage } from './codec';
import { DeadlineTimer, deadlineFromTimeoutNano } from './deadline';
import { ClosedError, ProtocolError, errorMessage } from './errors';
import { FrameType, MAX_MESSAGE_LENGTH, oversizeMessage, type FrameHeader } from './frame';
import { FrameReader } from './frame-reader';
import { FrameWriter } from './frame-writer';
import type { PeerCredentials } from './handshake';
import { Metadata } from './metadata';
import type { ResolvedMethod, ServiceRegistry } from './registry';
import { Code, DEADLINE_EXCEEDED_MESSAGE, RpcError, toStatus } from './status';
import { tracer } from './trace';

const trace = tracer('connection');

/** What a handler gets with each call. */
export interface CallContext {
  /** Wire name of the service, e.g. `containerd.task.v2.Task`. */
  readonly service: string;
  /** Wire name of the method, e.g. `State`. */
  readonly method: string;
  /** Metadata sent with the call (empty when none). */
  readonly metadata: Metadata;
  /** Absolute deadline in ms since the epoch (from `timeout_nano`), or undefined. */
  readonly deadline: number | undefined;
  /** Aborted when the deadline passes (reason: RpcError DEADLINE_EXCEEDED) or the connection is lost (ClosedError). */
  readonly signal: AbortSignal;
  /** Peer credentials, when the server's handshake produced them. */
  readonly peer: PeerCredentials | undefined;
  /** Stream id of the call (for logs). */
  readonly streamId: number;
}

/**
 * A call being served. Its AbortController is made only when the handler first reads
 * `context.signal`, which most handlers never do (no shim handler does): one is ~1.5 µs when made
 * once per request, as here (a tight loop makes it look free).
 */
interface InflightCall {
  controller: AbortController | undefined;
  /** Set once the call was aborted; a signal made later starts aborted with it. */
  aborted: { reason: Error } | undefined;
  timer: DeadlineTimer | undefined;
}

/** The call's signal, made on first use (aborted already if the call was). */
function signalOf(call: InflightCall): AbortSignal {
  if (call.controller === undefined) {
    call.controller = new AbortController();
    if (call.aborted) call.controller.abort(call.aborted.reason);
  }
  return call.controller.signal;
}

function abortCall(call: InflightCall, reason: Error): void {
  call.aborted ??= { reason };
  call.controller?.abort(reason);
}

/**
 * A handler's CallContext: a class, so the lazy `signal` is a prototype getter, not one per call.
 * Read `signal`; spreading the context (`{ ...ctx }`) copies own properties only and leaves it out.
 */
class ServerCallContext implements CallContext {
  readonly #call: InflightCall;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly metadata: Metadata,
    readonly deadline: number | undefined,
    readonly peer: PeerCredentials | undefined,
    readonly streamId: number,
    call: InflightCall,
  ) {
    this.#call = call;
  }

  get signal(): AbortSignal {
    return signalOf(this.#call);
  }
}

/** open: serving; draining: serving, closes once idle (shutdown); closed: gone. */
type ConnectionState = 'open' | 'draining' | 'closed';

const EMPTY = new Uint8Array(0);

/** One server-side connection. Created by Server once the handshake accepted the socket. */
export class ServerConnection {
  private readonly reader = new FrameReader();
  private readonly writer: FrameWriter;
  private readonly calls = new Map<number, InflightCall>();
  private lastStreamId = 0;
  private state: ConnectionState = 'open';
  private resolveClosed!: () => void;
  /** Resolves once the socket is closed. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly socket: net.Socket,
    private readonly registry: ServiceRegistry<CallContext>,
    private readonly peer: PeerCredentials | undefined,
    private readonly onAnswered?: () => void,
  ) {
    // A peer that does not read its responses stops being read from (bounded memory on both queues).
    this.writer = new FrameWriter(socket, (blocked) => {
      if (this.state === 'closed') return;
      if (blocked) socket.pause();
      else socket.resume();
    });
    socket.on('error', (err) => this.terminate(err));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => {
      this.terminate(new ClosedError('ttrpc: connection closed'));
      this.resolveClosed();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.resume(); // accepted paused (pauseOnConnect): reading starts only now, after the handshake
  }

  /** Calls started and not yet answered. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** Graceful: keep serving, close as soon as no call is in flight (at once if idle). Idempotent. */
  shutdown(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.closeIfIdle();
  }

  /**
   * Forced: close now; in-flight calls are abandoned and their signals aborted (with a ClosedError whose cause
   * is `reason`). Idempotent.
   */
  destroy(reason: Error = new ClosedError('ttrpc: connection closed')): void {
    this.terminate(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed()) return;
    for (const event of this.reader.push(chunk)) {
      if (this.isClosed()) return;
      if (event.kind === 'oversize') {
        trace('stream %d: %d-byte frame over the cap, skipping its data', event.header.streamId, event.header.length);
        this.replyStatus(event.header.streamId, Code.RESOURCE_EXHAUSTED, oversizeMessage(event.header.length));
      } else {
        this.onFrame(event.header, event.payload);
      }
    }
  }

  /** A method rather than an inline test: an earlier frame of the same chunk may have closed the connection. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private onFrame(header: FrameHeader, payload: Buffer): void {
    switch (header.type) {
      case FrameType.Request:
        this.onRequest(header, payload);
        return;
      case FrameType.Response:
      case FrameType.Data:
        trace('stream %d: ignoring frame of type %d (%d bytes)', header.streamId, header.type, header.length);
        return;
      default:
        trace('stream %d: ignoring unknown frame type %d (%d bytes)', header.streamId, header.type, header.length);
    }
  }

  private onRequest(header: FrameHeader, payload: Buffer): void {
    const id = header.streamId;
    if (id % 2 === 0) {
      this.replyStatus(id, Code.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams');
      return;
    }
    if (id <= this.lastStreamId) {
      this.terminate(new ProtocolError(`ttrpc: stream id ${id} reused or not increasing (last ${this.lastStreamId})`));
      return;
    }
    this.lastStreamId = id;
    if (header.flags !== 0) {
      this.replyStatus(id, Code.UNIMPLEMENTED, `ttrpc: streaming is not supported (request flags 0x${header.flags.toString(16)})`);
      return;
    }

    let request;
    try {
      request = decodeRequest(payload);
    } catch (err) {
      this.replyStatus(id, Code.INVALID_ARGUMENT, `unmarshal request error: ${errorMessage(err)}`);
      return;
    }
    const method = this.registry.resolve(request.service, request.method);
    if (method instanceof RpcError) {
      this.sendResponse(id, { status: method.toStatus(), payload: EMPTY });
      return;
    }
    let message: unknown;
    try {
      message = method.definition.requestType.decode(request.payload);
    } catch (err) {
      this.replyStatus(id, Code.INTERNAL, `ttrpc: error unmarshalling payload: ${errorMessage(err)}`);
      return;
    }
    const now = Date.now();
    const deadline = deadlineFromTimeoutNano(request.timeoutNano, now);
    if (deadline !== undefined && deadline <= now) {
      this.replyStatus(id, Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE);
      return;
    }

    const call: InflightCall = { controller: undefined, aborted: undefined, timer: undefined };
    this.calls.set(id, call);
    if (deadline !== undefined) call.timer = new DeadlineTimer(deadline, () => this.expire(id));
    const context = new ServerCallContext(request.service, request.method, Metadata.fromKeyValues(request.metadata), deadline, this.peer, id, call);
    trace('stream %d: %s/%s', id, request.service, request.method);
    void this.invoke(id, method, message, context);
  }

  /** Runs the handler; never rejects (every outcome becomes this call's one response). */
  private async invoke(id: number, method: ResolvedMethod<CallContext>, message: unknown, context: CallContext): Promise<void> {
    let response: unknown;
    try {
      response = await method.handler(message, context);
    } catch (err) {
      this.finish(id, { status: toStatus(err), payload: EMPTY });
      return;
    }
    this.complete(id, method, response);
  }

  private complete(id: number, method: ResolvedMethod<CallContext>, response: unknown): void {
    if (!this.calls.has(id)) return; // answered already (deadline) or connection gone
    if (response === undefined || response === null) {
      this.finish(id, { status: status(Code.UNKNOWN, 'ttrpc: marshal called with nil'), payload: EMPTY });
      return;
    }
    let payload: Uint8Array;
    try {
      payload = method.definition.responseType.encode(response);
    } catch (err) {
      this.finish(id, { status: status(Code.INTERNAL, `ttrpc: error marshalling payload: ${errorMessage(err)}`), payload: EMPTY });
      return;
    }
    this.finish(id, { payload });
  }

  /** Deadline passed before the handler answered: answer DEADLINE_EXCEEDED, then abort the handler's signal. */
  private expire(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    call.timer = undefined;
    trace('stream %d: deadline exceeded', id);
    this.finish(id, { status: status(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE), payload: EMPTY });
    abortCall(call, new RpcError(Code.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE));
  }

  /** Ends a call with its one response (later outcomes of the same call are dropped). */
  private finish(id: number, response: ResponseEnvelope): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    call.timer?.cancel();
    this.sendResponse(id, response);
    this.onAnswered?.();
    this.closeIfIdle();
  }

  private replyStatus(id: number, code: Code, message: string): void {
    this.sendResponse(id, { status: status(code, message), payload: EMPTY });
  }

  /** Writes a response frame; a response over the cap is replaced by RESOURCE_EXHAUSTED. */
  private sendResponse(id: number, response: ResponseEnvelope): void {
    if (this.state === 'closed') return;
    let data = encodeResponse(response);
    if (data.length > MAX_MESSAGE_LENGTH) {
      trace('stream %d: %d-byte response over the cap', id, data.length);
      data = encodeResponse({ status: status(Code.RESOURCE_EXHAUSTED, oversizeMessage(data.length)), payload: EMPTY });
    }
    this.writer.send(id, FrameType.Response, data);
  }

  private onEnd(): void {
    if (!this.reader.atFrameBoundary) trace('peer closed in the middle of a frame');
    this.terminate(new ClosedError('ttrpc: peer closed the connection'));
  }

  private closeIfIdle(): void {
    if (this.state !== 'draining' || this.calls.size > 0) return;
    this.state = 'closed';
    trace('idle after shutdown: closing');
    // Flush the last responses, end our side, then release the fd without waiting for the peer's FIN.
    this.socket.once('finish', () => this.socket.destroy());
    this.writer.end();
  }

  /** The connection is dead: drop queued output, destroy the socket, abort every in-flight call. */
  private terminate(reason: Error): void {
    const wasClosed = this.state === 'closed';
    this.state = 'closed';
    this.writer.close();
    if (!this.socket.destroyed) {
      if (!wasClosed) trace('closing connection: %s', reason.message);
      this.socket.destroy();
    }
    if (this.calls.size === 0) return;
    const abort = reason instanceof ClosedError ? reason : new ClosedError('ttrpc: connection closed', { cause: reason });
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) {
      call.timer?.cancel();
      abortCall(call, abort);
    }
  }
}

function status(code: Code, message: string): StatusMessage {
  return { code, message, details: [] };
}
