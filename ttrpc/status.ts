/**
 * RPC status: google.rpc codes, the error a failed call carries (RpcError), and the one conversion from
 * whatever a handler threw to the status that goes on the wire.
 */
import type { AnyMessage, StatusMessage } from './codec';
import { errorMessage } from './errors';

/** google.rpc.Code (the gRPC status codes), same numbers as on the wire. */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** The stable name of a code (`NOT_FOUND`), or `CODE_<n>` for a number outside the enum. */
export function codeName(code: number): string {
  const name = (Code as Record<number, string | undefined>)[code];
  return name ?? `CODE_${code}`;
}

/** Go's `context.DeadlineExceeded` text, used for DEADLINE_EXCEEDED on both sides. */
export const DEADLINE_EXCEEDED_MESSAGE = 'context deadline exceeded';

/** Go's `context.Canceled` text, used when a caller cancels a call. */
export const CANCELLED_MESSAGE = 'context canceled';

/**
 * A call failed with a status: returned by the peer, or produced locally for a deadline, a cancellation or an
 * oversized message. Throw one from a handler to choose the status sent. `message` is the status message
 * exactly as on the wire.
 */
export class RpcError extends Error {
  /** The google.rpc code (may be a number outside the enum if the peer sent one). */
  readonly code: Code;
  /** `google.rpc.Status.details`, passed through untouched. */
  readonly details: readonly AnyMessage[];

  constructor(code: Code, message: string, options?: ErrorOptions & { details?: readonly AnyMessage[] }) {
    super(message, options);
    this.name = 'RpcError';
    this.code = code;
    this.details = options?.details ?? [];
  }

  /** The stable name of `code`, e.g. `NOT_FOUND`. */
  get codeName(): string {
    return codeName(this.code);
  }

  /** The wire status for this error. */
  toStatus(): StatusMessage {
    return { code: this.code, message: this.message, details: [...this.details] };
  }

  /** The error a non-OK status stands for. */
  static fromStatus(status: StatusMessage): RpcError {
    return new RpcError(status.code, status.message, { details: status.details });
  }
}

/** True when `err` is an RpcError (with the given code, if one is given). */
export function isRpcError(err: unknown, code?: Code): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}

/**
 * The status sent for whatever a handler threw: an RpcError keeps its code, message and details; anything
 * else becomes UNKNOWN with its message (Go: `status.New(codes.Unknown, err.Error())`).
 * An RpcError with code OK would read as success on the wire, so it is sent as UNKNOWN.
 */
export function toStatus(err: unknown): StatusMessage {
  if (err instanceof RpcError) {
    const status = err.toStatus();
    if (err.code === Code.OK) status.code = Code.UNKNOWN;
    return status;
  }
  return { code: Code.UNKNOWN, message: errorMessage(err), details: [] };
}
