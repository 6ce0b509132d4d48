/**
 * Local errors of this package, each with a stable string `code` (undici style) so callers can branch on
 * `err.code` rather than on messages. Remote failures are not here: they arrive as an RpcError (status.ts)
 * carrying the google.rpc code the peer sent.
 */

/** Base class of every local ttrpc error; `code` is stable across releases. */
export class TtrpcError extends Error {
  /** Stable machine-readable code, e.g. `TTRPC_ERR_CLOSED`. */
  readonly code: string;

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TtrpcError';
    this.code = code;
  }
}

/**
 * The connection is gone: the client was closed, or the peer went away, before the call got its response.
 * `cause` holds the socket error, if there was one.
 */
export class ClosedError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_CLOSED';

  constructor(message = 'ttrpc: closed', options?: ErrorOptions) {
    super(message, ClosedError.code, options);
    this.name = 'ClosedError';
  }
}

/** The server was shut down or closed (e.g. `listen` after `close`). */
export class ServerClosedError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_SERVER_CLOSED';

  constructor(message = 'ttrpc: server closed', options?: ErrorOptions) {
    super(message, ServerClosedError.code, options);
    this.name = 'ServerClosedError';
  }
}

/** The peer broke the framing rules badly enough that its connection was closed (e.g. a reused stream id). */
export class ProtocolError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_PROTOCOL';

  constructor(message: string, options?: ErrorOptions) {
    super(message, ProtocolError.code, options);
    this.name = 'ProtocolError';
  }
}

/** Bytes that are not a valid protobuf encoding of the expected message. */
export class DecodeError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_DECODE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, DecodeError.code, options);
    this.name = 'DecodeError';
  }
}

/** A frame larger than the 4 MiB limit was about to be written (the writer refuses it; nothing is sent). */
export class OversizedMessageError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_OVERSIZED_MESSAGE';

  constructor(
    readonly length: number,
    readonly maxLength: number,
  ) {
    super(`message length ${length} exceed maximum message size of ${maxLength}`, OversizedMessageError.code);
    this.name = 'OversizedMessageError';
  }
}

/** A connection was refused by the server's handshake (e.g. peer credentials do not match). */
export class HandshakeError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_HANDSHAKE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, HandshakeError.code, options);
    this.name = 'HandshakeError';
  }
}

/** `register` was called twice for one service name. */
export class DuplicateServiceError extends TtrpcError {
  static readonly code = 'TTRPC_ERR_DUPLICATE_SERVICE';

  constructor(readonly service: string) {
    super(`ttrpc: duplicate service ${service} registered`, DuplicateServiceError.code);
    this.name = 'DuplicateServiceError';
  }
}

/** The message of an unknown thrown value, for logs and UNKNOWN statuses. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
