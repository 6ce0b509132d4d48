/** What the process layer works with: stdio handles and the status a process reports. */
import { type ProcessIO } from '../stdio/io';
import { type DeliveryLimits, type DeliveryOutcome } from '../stdio/types';
import { type StdioConfig } from '../stdio/uri';

export type { DeliveryLimits, DeliveryOutcome, ProcessIO, StdioConfig };

/** A process as State reports it. */
export interface ProcessStatus {
  /** Container id for the init, exec id for an exec. */
  id: string;
  pid: number;
  /** containerd.v1.types.Status value. */
  status: number;
  stdio: StdioConfig;
  exitStatus: number;
  /** Exit time in ns since the epoch, undefined while running. */
  exitedAt: bigint | undefined;
}
