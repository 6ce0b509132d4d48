/**
 * errno → Node-style SystemError, shaped like the errors of Node's own fs and net calls:
 * `code` ('ESRCH'), `errno` (negative, as libuv reports it), `syscall`, optional `path`, and a
 * message like "ESRCH: no such process, pidfd_open".
 */
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

let names: Map<number, string> | undefined;
let descriptions: Map<number, [string, string]> | undefined;

/** The symbolic name of an errno value ('ENOENT' for 2). libuv's own map lacks some (ECHILD). */
export function errnoName(errno: number): string {
  if (!names) {
    names = new Map();
    for (const [name, value] of Object.entries(constants.errno)) if (!names.has(value)) names.set(value, name);
  }
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** Builds the error a failed system call throws. */
export function systemError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  descriptions ??= getSystemErrorMap();
  const code = errnoName(errno);
  const description = descriptions.get(-Math.abs(errno))?.[1] ?? FALLBACK[code] ?? `errno ${Math.abs(errno)}`;
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${where}`);
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** Descriptions of errnos libuv does not know. */
const FALLBACK: Record<string, string> = {
  ECHILD: 'no child processes',
  ESRCH: 'no such process',
  EBADMSG: 'bad message',
};

/** True when `err` is a system error with the given code. */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
