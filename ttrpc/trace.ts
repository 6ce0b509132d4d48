/**
 * Per-module trace logging, silent by default. Switch it on with `NODE_DEBUG=ttrpc*` (util.debuglog sections
 * `ttrpc_server`, `ttrpc_client`, …) or with `TTRPC_TRACE` set to `1`/`*` (every module) or to a comma list of
 * module names (`TTRPC_TRACE=server,client`). Output goes to stderr: never enable it in a shim's `start`,
 * whose stderr is the address pipe.
 */
import { debuglog, format } from 'node:util';

/** A trace function: util.format-style arguments. */
export type Trace = (fmt: string, ...args: unknown[]) => void;

const noop: Trace = () => undefined;

function enabledByEnv(module: string): boolean {
  const setting = process.env['TTRPC_TRACE'];
  if (setting === undefined || setting === '' || setting === '0') return false;
  if (setting === '1' || setting === '*') return true;
  return setting.split(',').some((name) => name.trim() === module);
}

/** The tracer of one module (`server`, `connection`, `client`). */
export function tracer(module: string): Trace {
  if (enabledByEnv(module)) {
    return (fmt, ...args) => {
      process.stderr.write(`TTRPC ${module} ${process.pid}: ${format(fmt, ...args)}\n`);
    };
  }
  const log = debuglog(`ttrpc_${module}`);
  return log.enabled ? (fmt, ...args) => log(fmt, ...args) : noop;
}
