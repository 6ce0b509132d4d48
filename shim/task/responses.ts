/** Domain state → Task API responses (StateResponse, WaitResponse, DeleteResponse). */
import { type Container } from '../container/container';
import { type BaseProcess } from '../process/base';
import { reportedStatus } from '../process/state';
import { type task, toTimestamp, zeroTimestamp } from '../../proto';

/** Exit time as a Timestamp: Go's zero time until the process exited. */
export function exitTime(p: BaseProcess): ReturnType<typeof zeroTimestamp> {
  const at = p.exitedAt;
  return at === undefined || at === 0n ? zeroTimestamp() : toTimestamp(at);
}

export function stateResponse(c: Container, p: BaseProcess): task.StateResponse {
  return {
    id: p.id,
    bundle: c.bundle,
    pid: p.pid,
    status: reportedStatus(p.role, p.state, c.init.state),
    stdin: p.stdio.stdin,
    stdout: p.stdio.stdout,
    stderr: p.stdio.stderr,
    terminal: p.stdio.terminal,
    exitStatus: p.exitStatus,
    exitedAt: exitTime(p),
    execId: '',
  };
}

export function waitResponse(p: BaseProcess): task.WaitResponse {
  return { exitStatus: p.exitStatus, exitedAt: exitTime(p) };
}

export function deleteResponse(p: BaseProcess): task.DeleteResponse {
  return { pid: p.pid, exitStatus: p.exitStatus, exitedAt: exitTime(p) };
}
