/**
 * native/: the system calls Node lacks, typed in one place (native/types.ts) and loaded lazily, so a
 * process that never needs them (the shim's `start` action) never pays for koffi.
 *
 * Use `loadNative()` in composition roots and pass the `Native` object down; unit tests pass a
 * `FakeNative` (native/fake.ts) instead.
 */
import { type Native } from './types';
import type * as LinuxModule from './linux';

export * from './types';
export { errnoName, isErrno, systemError } from './errno';
export { forkRefusal } from './fork-requirements';

let native: Native | undefined;

/** The real implementation (libc through koffi), loaded on first use. Linux only. */
export function loadNative(): Native {
  if (!native) {
    // A deferred require keeps koffi (~10 ms) off the start path of processes that never need it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const linux = require('./linux') as typeof LinuxModule;
    native = linux.createLinuxNative();
  }
  return native;
}
