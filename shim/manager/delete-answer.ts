/**
 * The `delete` action's answer (PROTOCOL §4): a DeleteResponse with the init's pid, exit status
 * 137 and a time. The Node action prints it after its cleanup (delete.ts). A daemon that deleted
 * its task itself — runc's state removed, the rootfs unmounted — also leaves it in the bundle, so
 * that bin/containerd-shim-tsrunc-v2 can print it with the shell's own `read` and `printf`, without
 * starting Node or asking a spare: containerd runs `delete` after every task and waits for it
 * before `ctr run --rm` returns, and there is nothing left for it to clean up.
 *
 * The file is one line of `\NNN` octal escapes (a printf format with no conversions), ended by a
 * newline: a line cut short by a crash does not `read`, and the script runs the full delete. The
 * time in it is the task's deletion, a few milliseconds before containerd asks (the Node action
 * says "now"); containerd reads the answer's status and time only for a task it still lists,
 * which a deleted one is not — unless its Delete call failed on containerd's side after the shim
 * had done it (a deadline), when it publishes TaskExit with them: the time of the deletion then.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProtoWriter } from '../util/proto-lite';

/** Exit status reported for a task whose shim is gone: 128 + SIGKILL. */
export const KILLED_STATUS = 137;

/** The answer's file in a bundle (the script reads the same name). */
export const DELETE_ANSWER_FILE = 'tsrunc-delete-answer';

/**
 * containerd.task.v2.DeleteResponse: 1 pid uint32, 2 exit_status uint32, 3 exited_at Timestamp
 * {1 seconds int64, 2 nanos int32}. A missing pid (-1) is sent as uint32 4294967295, as Go does.
 */
export function deleteResponse(pid: number, exitStatus: number, nowMs: number): Uint8Array {
  const seconds = Math.floor(nowMs / 1000);
  const nanos = Math.round((nowMs - seconds * 1000) * 1e6);
  const timestamp = new ProtoWriter().varint(1, seconds).varint(2, nanos).finish();
  return new ProtoWriter()
    .varint(1, pid >>> 0)
    .varint(2, exitStatus)
    .bytes(3, timestamp, true)
    .finish();
}

/** `bytes` as a printf format that prints exactly them: `\NNN` for every byte, NUL included. */
export function printfEscaped(bytes: Uint8Array): string {
  let format = '';
  for (const byte of bytes) format += `\\${byte.toString(8).padStart(3, '0')}`;
  return format;
}

/** Leaves the answer for a task deleted cleanly (a pid ≤ 0: none known). Throws if it cannot be written. */
export function leaveDeleteAnswer(bundle: string, pid: number, nowMs: number): void {
  const line = `${printfEscaped(deleteResponse(pid > 0 ? pid : -1, KILLED_STATUS, nowMs))}\n`;
  writeFileSync(join(bundle, DELETE_ANSWER_FILE), line, { mode: 0o600 });
}

/**
 * Removes an answer left in `bundle`, at `start`: containerd makes a new bundle for every task,
 * but the supervisor restarts a task in the same one, and a new task that dies before its Delete
 * must get the full delete, not its predecessor's answer. Throws if one is there and stays.
 */
export function forgetDeleteAnswer(bundle: string): void {
  try {
    unlinkSync(join(bundle, DELETE_ANSWER_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove the delete answer a previous task left in ${bundle}: ${(err as Error).message}`, { cause: err });
  }
}
