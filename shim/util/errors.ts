/**
 * The shim's errors: a closed set of containerd error kinds (STYLE B.6), each error wrapped with
 * context where it happens and converted to a wire status exactly once, at the RPC edge
 * (task/service.ts). The kinds and their wire codes live in proto/errdefs.ts, shared with the
 * supervisor; this file is the shim's constructor for them.
 */
export { type ErrorKind, ErrdefsError as ShimError } from '../../proto/errdefs';
