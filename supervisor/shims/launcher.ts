/**
 * Runs a shim binary's short-lived actions exactly as containerd does (PROTOCOL §2.3, §4.1):
 *
 *   start:  <shim> -namespace NS -address ADDR -publish-binary EXE -id ID start
 *           cwd = bundle, env = ours + TTRPC_ADDRESS, stdin = runtime options Any (or /dev/null),
 *           stdout and stderr ONE pipe, new session; the trimmed output is the bootstrap reply.
 *   delete: <shim> -namespace NS -address ADDR -publish-binary EXE -id ID -bundle B delete
 *           cwd = bundle, stdin /dev/null, stdout = DeleteResponse bytes, stderr logged, 5 s limit.
 *
 * ADDR is the supervisor's API socket (the shim hashes it into its own socket name), EXE is
 * bin/tsrunc, TTRPC_ADDRESS the supervisor's events endpoint.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import type { Native } from '../../native';
import { ErrdefsError } from '../../proto/errdefs';
import { task } from '../../proto/index';
import { fromTimestamp, isZero } from '../../proto/time';
import { type Bootstrap, parseBootstrap } from './bootstrap';

/** Who the shim is for, and where the supervisor is. */
export interface ShimInvocation {
  readonly binary: string;
  readonly namespace: string;
  readonly id: string;
  readonly bundle: string;
  /** The supervisor's API socket path (containerd's `-address`). */
  readonly address: string;
  /** `-publish-binary`: bin/tsrunc. */
  readonly publishBinary: string;
  /** The events endpoint (TTRPC_ADDRESS). */
  readonly ttrpcAddress: string;
}

/** What the `delete` action reported. */
export interface DeleteResult {
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: Date;
  /** The action's stderr (warnings), trimmed. */
  readonly warnings: string;
}

/** How long `start` may take (containerd sets none; a hung shim must not hang a create forever). */
export const START_TIMEOUT_MS = 60_000;
/** containerd's `io.containerd.timeout.shim.cleanup`. */
export const DELETE_TIMEOUT_MS = 5_000;

function baseArgs(inv: ShimInvocation): string[] {
  return ['-namespace', inv.namespace, '-address', inv.address, '-publish-binary', inv.publishBinary, '-id', inv.id];
}

function env(inv: ShimInvocation): NodeJS.ProcessEnv {
  return { ...process.env, TTRPC_ADDRESS: inv.ttrpcAddress };
}

/**
 * Runs `start` and parses its reply. Failure: `<output>: exit status N`, as containerd reports it.
 * Every stream is a pipe, as containerd gives them (Node's child_process would give sockets): our
 * shim's shell entry point lets its spare daemon reopen them through /proc, which sockets refuse.
 */
export async function runStart(inv: ShimInvocation, options: Uint8Array | undefined, native: Pick<Native, 'pipe' | 'close'>): Promise<Bootstrap> {
  // stdout and stderr share one pipe (Go's CombinedOutput): the reply is everything printed
  const [readFd, writeFd] = native.pipe();
  let stdin: [number, number] | undefined;
  try {
    stdin = options === undefined ? undefined : native.pipe();
  } catch (err) {
    native.close(readFd);
    native.close(writeFd);
    throw err;
  }
  let child;
  try {
    child = spawn(inv.binary, [...baseArgs(inv), 'start'], {
      cwd: inv.bundle,
      env: env(inv),
      stdio: [stdin?.[0] ?? 'ignore', writeFd, writeFd],
      detached: true,
    });
  } catch (err) {
    native.close(readFd);
    if (stdin) native.close(stdin[1]);
    throw err;
  } finally {
    native.close(writeFd);
    if (stdin) native.close(stdin[0]);
  }
  const output = readAll(new net.Socket({ fd: readFd, readable: true, writable: false }));
  if (stdin && options !== undefined) new net.Socket({ fd: stdin[1], readable: false, writable: true }).on('error', () => undefined).end(Buffer.from(options));
  const status = await exitOf(child, START_TIMEOUT_MS, 'start');
  const text = (await output).toString('utf8').trim();
  if (status !== 0) throw new ErrdefsError('unknown', `${text === '' ? 'shim start failed' : text}: exit status ${status}`);
  return parseBootstrap(text);
}

/** Runs `delete` for a task whose shim is gone, and decodes its DeleteResponse. Pipes, as for `start`. */
export async function runDelete(inv: ShimInvocation, native: Pick<Native, 'pipe' | 'close'>): Promise<DeleteResult> {
  const [outRead, outWrite] = native.pipe();
  let errPipe: [number, number];
  try {
    errPipe = native.pipe();
  } catch (err) {
    native.close(outRead);
    native.close(outWrite);
    throw err;
  }
  const [errRead, errWrite] = errPipe;
  let child;
  try {
    child = spawn(inv.binary, [...baseArgs(inv), '-bundle', inv.bundle, 'delete'], {
      cwd: inv.bundle,
      env: env(inv),
      stdio: ['ignore', outWrite, errWrite],
      detached: true,
    });
  } catch (err) {
    native.close(outRead);
    native.close(errRead);
    throw err;
  } finally {
    native.close(outWrite);
    native.close(errWrite);
  }
  const stdout = readAll(new net.Socket({ fd: outRead, readable: true, writable: false }));
  const stderr = readAll(new net.Socket({ fd: errRead, readable: true, writable: false }));
  const status = await exitOf(child, DELETE_TIMEOUT_MS, 'delete');
  const out = await stdout;
  const warnings = (await stderr).toString('utf8').trim();
  if (status !== 0) throw new ErrdefsError('unknown', `shim delete failed: ${warnings === '' ? '' : `${warnings}: `}exit status ${status}`);
  let response: task.DeleteResponse;
  try {
    response = task.DeleteResponse.decode(out);
  } catch (err) {
    throw new ErrdefsError('unknown', `shim delete printed an undecodable DeleteResponse: ${(err as Error).message}`);
  }
  return deleteResultOf(response, warnings);
}

/** A DeleteResponse (of the shim's `delete` action or its Delete call) as a DeleteResult. */
export function deleteResultOf(response: task.DeleteResponse, warnings = ''): DeleteResult {
  // a missing init.pid gives 2^32-1 (PROTOCOL §4.3): no process to report
  const pid = response.pid === 0xffffffff ? 0 : response.pid;
  return { pid, exitStatus: response.exitStatus, exitedAt: isZero(response.exitedAt) ? new Date() : fromTimestamp(response.exitedAt), warnings };
}

function readAll(stream: Readable | null): Promise<Buffer> {
  if (stream === null) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** The exit status (128+signal for a signal) of a child; SIGKILLs it after `timeoutMs`. */
function exitOf(child: ReturnType<typeof spawn>, timeoutMs: number, action: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ErrdefsError('unknown', `cannot run shim ${action}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new ErrdefsError('deadlineExceeded', `shim ${action} did not finish within ${timeoutMs} ms`));
      else resolve(code ?? 128 + (signal === null ? 0 : signalNumber(signal)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}
