/**
 * Process supervision: child subreaper, waitid on one child (by pid or pidfd), pidfds.
 *
 * Only ever wait for one given child: a blanket waitid(P_ALL) would also reap the children libuv
 * spawned for child_process, whose exits Node would then never report (STYLE A.1).
 */
import { check } from './check';
import { type Libc } from './libc';
import { CLD, SIGINFO } from './structs';
import { type ExitInfo } from './types';

const PR_SET_PDEATHSIG = 1;
const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;

const P_PID = 1;
const P_PIDFD = 3;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;

export function setChildSubreaper(libc: Libc, on: boolean): void {
  check(libc, libc.prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0), 'prctl');
}

export function isChildSubreaper(libc: Libc): boolean {
  const out = Buffer.alloc(4);
  check(libc, libc.prctl(PR_GET_CHILD_SUBREAPER, libc.address(out), 0, 0, 0), 'prctl');
  return out.readInt32LE(0) !== 0;
}

export function setParentDeathSignal(libc: Libc, signal: number): void {
  check(libc, libc.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0), 'prctl');
}

const EINTR = 4;

/** waitid(2); WNOHANG unless `block` (then retried when a signal interrupts it). */
function waitid(libc: Libc, idtype: number, id: number, options: number, block = false): ExitInfo | null {
  const info = Buffer.alloc(SIGINFO.size); // zeroed: si_pid stays 0 when WNOHANG finds nothing
  for (;;) {
    if (libc.waitid(idtype, id, info, WEXITED | (block ? 0 : WNOHANG) | options) === 0) break;
    if (!block || libc.errno() !== EINTR) check(libc, -1, 'waitid');
  }
  const pid = info.readInt32LE(SIGINFO.offsets['si_pid'] ?? 0);
  if (pid === 0) return null;
  const code = info.readInt32LE(SIGINFO.offsets['si_code'] ?? 0);
  const value = info.readInt32LE(SIGINFO.offsets['si_status'] ?? 0);
  if (code === CLD.KILLED || code === CLD.DUMPED) return { pid, status: 128 + value, signal: value };
  return { pid, status: value };
}

export function waitPid(libc: Libc, pid: number, options?: { peek?: boolean }): ExitInfo | null {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`waitPid: not a pid: ${pid}`);
  return waitid(libc, P_PID, pid, options?.peek ? WNOWAIT : 0);
}

/** Waits for child `pid` to exit, blocking: only for a child known to exit at once. */
export function waitPidBlocking(libc: Libc, pid: number): ExitInfo {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`waitPidBlocking: not a pid: ${pid}`);
  const exit = waitid(libc, P_PID, pid, 0, true);
  if (!exit) throw new Error(`waitid: no exit of ${pid}`);
  return exit;
}

export function waitPidfd(libc: Libc, pidfd: number): ExitInfo | null {
  return waitid(libc, P_PIDFD, pidfd, 0);
}

export function pidfdOpen(libc: Libc, pid: number): number {
  return check(libc, libc.pidfd_open(pid, 0), 'pidfd_open');
}

export function pidfdSendSignal(libc: Libc, pidfd: number, signal: number): void {
  check(libc, libc.pidfd_send_signal(pidfd, signal, null, 0), 'pidfd_send_signal');
}
