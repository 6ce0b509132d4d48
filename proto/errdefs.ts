/**
 * containerd's error classes ("errdefs"), their wire status codes and message convention
 * (PROTOCOL §6.5), shared by the shim and the supervisor. Loads nothing: `start` and `delete` use it.
 *
 * On the wire an error is a google.rpc status: a code and a message. A classified error goes out as
 * code = class, message = `"<detail>: <class text>"` (NOT_FOUND `container not created: not found`);
 * an unclassified one as UNKNOWN with the plain detail (`cannot delete a running process`), exactly as
 * Go's errdefs.ToGRPC + ttrpc do. Coming back, containerd's FromGRPC picks the class from the code,
 * strips a trailing `": <class text>"` and appends it again — `ErrdefsError.message` is that text.
 *
 * containerd 1.6 knows the first seven classes plus Go's context errors; resourceExhausted, internal
 * and permissionDenied are the newer containerd/errdefs classes (1.6 reads them as unknown).
 */

/** The closed set of error kinds. */
export type ErrorKind =
  | 'invalidArgument'
  | 'notFound'
  | 'alreadyExists'
  | 'failedPrecondition'
  | 'unavailable'
  | 'notImplemented'
  | 'unknown'
  | 'canceled'
  | 'deadlineExceeded'
  | 'resourceExhausted'
  | 'internal'
  | 'permissionDenied';

/** google.rpc codes by name, the same numbering as ttrpc-ts' `Code` (proto/ cannot import it). */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Per kind: wire code, class text (Go's error string) and stable error code. */
const KINDS: Readonly<Record<ErrorKind, { readonly code: number; readonly text: string; readonly id: string }>> = {
  invalidArgument: { code: StatusCode.INVALID_ARGUMENT, text: 'invalid argument', id: 'ERRDEFS_INVALID_ARGUMENT' },
  notFound: { code: StatusCode.NOT_FOUND, text: 'not found', id: 'ERRDEFS_NOT_FOUND' },
  alreadyExists: { code: StatusCode.ALREADY_EXISTS, text: 'already exists', id: 'ERRDEFS_ALREADY_EXISTS' },
  failedPrecondition: { code: StatusCode.FAILED_PRECONDITION, text: 'failed precondition', id: 'ERRDEFS_FAILED_PRECONDITION' },
  unavailable: { code: StatusCode.UNAVAILABLE, text: 'unavailable', id: 'ERRDEFS_UNAVAILABLE' },
  notImplemented: { code: StatusCode.UNIMPLEMENTED, text: 'not implemented', id: 'ERRDEFS_NOT_IMPLEMENTED' },
  unknown: { code: StatusCode.UNKNOWN, text: 'unknown', id: 'ERRDEFS_UNKNOWN' },
  canceled: { code: StatusCode.CANCELLED, text: 'context canceled', id: 'ERRDEFS_CANCELED' },
  deadlineExceeded: { code: StatusCode.DEADLINE_EXCEEDED, text: 'context deadline exceeded', id: 'ERRDEFS_DEADLINE_EXCEEDED' },
  resourceExhausted: { code: StatusCode.RESOURCE_EXHAUSTED, text: 'resource exhausted', id: 'ERRDEFS_RESOURCE_EXHAUSTED' },
  internal: { code: StatusCode.INTERNAL, text: 'internal', id: 'ERRDEFS_INTERNAL' },
  permissionDenied: { code: StatusCode.PERMISSION_DENIED, text: 'permission denied', id: 'ERRDEFS_PERMISSION_DENIED' },
};

/** Every kind, in declaration order. */
export const ERROR_KINDS = Object.keys(KINDS) as readonly ErrorKind[];

const KIND_BY_CODE = new Map<number, ErrorKind>(ERROR_KINDS.map((k) => [KINDS[k].code, k]));

/** The wire code of a kind (notFound → 5). */
export function codeOf(kind: ErrorKind): number {
  return KINDS[kind].code;
}

/** The kind a wire code stands for; codes without a class (ABORTED, OUT_OF_RANGE, …) are unknown. */
export function kindOf(code: number): ErrorKind {
  return KIND_BY_CODE.get(code) ?? 'unknown';
}

/** The class text of a kind (`not found`), as Go's errdefs errors print it. */
export function classText(kind: ErrorKind): string {
  return KINDS[kind].text;
}

/** `message` without a trailing `": <class text>"` (containerd's rebaseMessage); '' when it is only the text. */
export function stripClassText(kind: ErrorKind, message: string): string {
  const text = KINDS[kind].text;
  if (message === text) return '';
  return message.endsWith(`: ${text}`) ? message.slice(0, -(text.length + 2)) : message;
}

/** A status as carried on the wire (the code and message of google.rpc.Status). */
export interface StatusLike {
  readonly code: number;
  readonly message: string;
}

/**
 * An error of one kind: `detail` says what happened, `message` is `"<detail>: <class text>"` (what
 * containerd and ctr show), `code` is a stable string (`ERRDEFS_NOT_FOUND`), `statusCode` the wire code.
 */
export class ErrdefsError extends Error {
  /** The error class. */
  readonly kind: ErrorKind;
  /** The message without the class text (a trailing class text passed in is dropped, not doubled). */
  readonly detail: string;
  /** A stable identifier of the kind, for programs and logs. */
  readonly code: string;

  constructor(kind: ErrorKind, detail: string, options?: ErrorOptions) {
    const clean = stripClassText(kind, detail);
    super(clean === '' ? KINDS[kind].text : `${clean}: ${KINDS[kind].text}`, options);
    this.name = 'ErrdefsError';
    this.kind = kind;
    this.detail = clean;
    this.code = KINDS[kind].id;
  }

  /** The google.rpc code this error goes out with. */
  get statusCode(): number {
    return KINDS[this.kind].code;
  }

  /** The wire status: classified → `"<detail>: <class text>"`; unknown → the plain detail (as Go sends it). */
  toStatus(): StatusLike {
    if (this.kind === 'unknown') return { code: StatusCode.UNKNOWN, message: this.detail === '' ? KINDS.unknown.text : this.detail };
    return { code: this.statusCode, message: this.message };
  }
}

/** True when `err` is an ErrdefsError. */
export function isErrdefsError(err: unknown): err is ErrdefsError;
/** True when `err` is an ErrdefsError of `kind`. */
export function isErrdefsError(err: unknown, kind: ErrorKind): boolean;
export function isErrdefsError(err: unknown, kind?: ErrorKind): boolean {
  return err instanceof ErrdefsError && (kind === undefined || err.kind === kind);
}

function isStatusLike(err: unknown): err is StatusLike {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return typeof code === 'number' && Number.isInteger(code) && typeof message === 'string';
}

/**
 * The wire status for anything thrown (Go: errdefs.ToGRPC, then ttrpc's fallback). An ErrdefsError maps by
 * kind; an error already carrying a numeric status code (e.g. ttrpc-ts' RpcError) passes through unchanged;
 * anything else is UNKNOWN with its message. A status code of OK would read as success, so it becomes UNKNOWN.
 */
export function toStatus(err: unknown): StatusLike {
  if (err instanceof ErrdefsError) return err.toStatus();
  if (isStatusLike(err)) return { code: err.code === StatusCode.OK ? StatusCode.UNKNOWN : err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: StatusCode.UNKNOWN, message };
}

/** The error a received status stands for (containerd's errdefs.FromGRPC). */
export function fromStatus(code: number, message: string): ErrdefsError {
  return new ErrdefsError(kindOf(code), message);
}

/** `err` with `context` prepended to its detail, keeping its kind (Go: `fmt.Errorf("<context>: %w", err)`). */
export function wrapError(err: unknown, context: string): ErrdefsError {
  if (err instanceof ErrdefsError) {
    return new ErrdefsError(err.kind, err.detail === '' ? context : `${context}: ${err.detail}`, { cause: err });
  }
  const status = toStatus(err);
  const kind = isStatusLike(err) ? kindOf(status.code) : 'unknown';
  const detail = stripClassText(kind, status.message);
  return new ErrdefsError(kind, detail === '' ? context : `${context}: ${detail}`, { cause: err });
}
