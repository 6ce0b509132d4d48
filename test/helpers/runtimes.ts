/**
 * The runtimes a behaviour is checked against: Go's io.containerd.runc.v2 (the reference) and ours.
 * A test of something containerd can see runs for both; deliberate differences run for ours only.
 */
export const GO_RUNTIME = 'io.containerd.runc.v2';
export const OUR_RUNTIME = 'io.containerd.tsrunc.v2';
export const RUNTIMES = [GO_RUNTIME, OUR_RUNTIME] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** A short label for test titles. */
export function label(runtime: string): string {
  return runtime === GO_RUNTIME ? 'Go runc.v2' : 'tsrunc';
}

let counter = 0;
/** A container id unique within this test process. */
export function uniqueId(prefix = 't'): string {
  counter++;
  return `${prefix}${process.pid.toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 5)}`;
}
