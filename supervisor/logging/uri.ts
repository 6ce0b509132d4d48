/**
 * How a task's output reaches its log driver: the `binary://` URI given to the shim as the task's
 * stdout and stderr, and the driver's settings file. The URI has ONE query key, because Go's shim
 * passes the keys in map order (random): `binary:///…/bin/tsrunc?log-driver=<dir>` runs
 * `tsrunc log-driver <dir>`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../util/atomic-file';
import { LOG_CONFIG_FILE } from './format';
import type { RotationLimits } from './rotating-file';

/** The verb `tsrunc` runs as a log driver. */
export const LOG_DRIVER_VERB = 'log-driver';

/** `binary://<tsrunc>?log-driver=<dir>`, percent-encoded. */
export function loggerUri(tsrunc: string, logDir: string): string {
  return `binary://${pathToFileURL(tsrunc).pathname}?${LOG_DRIVER_VERB}=${encodeURIComponent(logDir)}`;
}

/** Writes the driver's settings (read when the driver starts). */
export function writeLogConfig(logDir: string, limits: RotationLimits): void {
  writeFileAtomic(join(logDir, LOG_CONFIG_FILE), JSON.stringify(limits), 0o600);
}
