/**
 * The reply of a shim's `start` (PROTOCOL §2.4, §2.6, §14): the whole combined stdout+stderr,
 * trimmed, is either
 *   - a plain address `unix:///path` (containerd 1.6; protocol version 2, service containerd.task.v2.Task), or
 *   - JSON `{"version": 2|3, "address": "unix:///…", "protocol": "ttrpc"}` (containerd 1.7 / 2.x);
 *     version 3 means the Task service is containerd.task.v3.Task.
 * Refused with a clear error: a version above 3, protocol grpc (we speak ttrpc to shims), abstract
 * socket addresses (reachable by any process in the network namespace: CVE-2020-15257), and empty
 * or malformed replies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';

/** The parsed reply. */
export interface Bootstrap {
  readonly version: 2 | 3;
  readonly address: string;
  readonly protocol: 'ttrpc';
}

/** The highest bootstrap version we accept. */
export const MAX_SHIM_VERSION = 3;

/**
 * The reply a shim's `start` also wrote to `<bundle>/address` (containerd finds its shims there
 * after a restart), or undefined when no start left one that parses.
 */
export function bootstrapInBundle(bundle: string): Bootstrap | undefined {
  try {
    return parseBootstrap(readFileSync(join(bundle, 'address'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Parses what `start` printed. Throws an ErrdefsError naming what is wrong. */
export function parseBootstrap(output: string): Bootstrap {
  const text = output.trim();
  if (text === '') throw new ErrdefsError('failedPrecondition', 'shim start printed no address');
  if (text.startsWith('{')) return parseJson(text);
  return { version: 2, address: checkAddress(text), protocol: 'ttrpc' };
}

function parseJson(text: string): Bootstrap {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ErrdefsError('failedPrecondition', `shim start printed malformed JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ErrdefsError('failedPrecondition', 'shim start printed JSON that is not an object');
  const { version, address, protocol } = value as { version?: unknown; address?: unknown; protocol?: unknown };
  if (typeof version !== 'number' || !Number.isInteger(version)) throw new ErrdefsError('failedPrecondition', 'shim bootstrap reply has no integer "version"');
  if (version > MAX_SHIM_VERSION) throw new ErrdefsError('notImplemented', `unsupported shim version (${version})`);
  if (version < 2) throw new ErrdefsError('failedPrecondition', `shim bootstrap reply version ${version} is below 2`);
  const proto = typeof protocol === 'string' ? protocol.toLowerCase() : 'ttrpc';
  if (proto === 'grpc') throw new ErrdefsError('notImplemented', 'shim protocol grpc is not supported (only ttrpc)');
  if (proto !== 'ttrpc') throw new ErrdefsError('failedPrecondition', `unknown shim protocol ${JSON.stringify(protocol)}`);
  if (typeof address !== 'string') throw new ErrdefsError('failedPrecondition', 'shim bootstrap reply has no "address"');
  return { version: version === 3 ? 3 : 2, address: checkAddress(address), protocol: 'ttrpc' };
}

function checkAddress(address: string): string {
  if (/\s/.test(address)) throw new ErrdefsError('failedPrecondition', `shim start printed more than an address: ${JSON.stringify(address.slice(0, 200))}`);
  if (!address.startsWith('unix://')) {
    throw new ErrdefsError('failedPrecondition', `shim address ${JSON.stringify(address)} is not unix:///path (abstract sockets are refused)`);
  }
  if (!address.slice('unix://'.length).startsWith('/')) throw new ErrdefsError('failedPrecondition', `shim address ${address} is not an absolute path`);
  return address;
}

/** The socket path of a `unix://` address. */
export function socketPathOf(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}
