/**
 * Errors at the API edge, converted exactly once: an ErrdefsError kind becomes the gRPC status code
 * of the same number (containerd's errdefs ToGRPC), its message the status details; anything else is
 * UNKNOWN with its message. The client turns a status back into an ErrdefsError (`fromStatus`) and
 * shows its detail.
 */
import { type ErrdefsError, fromStatus, toStatus } from '../../proto/errdefs';

/** A gRPC status as grpc-js takes it from a handler. */
export interface GrpcStatus {
  readonly code: number;
  readonly details: string;
}

/** The status for anything a handler threw. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  const status = toStatus(err);
  return { code: status.code, details: status.message };
}

/** The error a status received by the client stands for. */
export function fromGrpcStatus(status: { code?: number; details?: string; message?: string }): ErrdefsError {
  return fromStatus(status.code ?? 2, status.details ?? status.message ?? 'unknown error');
}

/** grpc-js' error for a status, as handlers hand it to callbacks and streams. */
export function serviceError(err: unknown): Error & GrpcStatus {
  const status = toGrpcStatus(err);
  return Object.assign(new Error(status.details), status);
}
