/**
 * containerd-shim-tsrunc-v2: the entry point. Wiring only — parse the command line, then run one
 * action: `start`, `delete`, or (no action) the daemon. Each action's code is loaded only when that
 * action runs: `start` and `delete` run once per container and must stay lean.
 *
 * The only process.exit calls of shim/ are here.
 */
// An unhandled SIGUSR1 opens Node's inspector on 127.0.0.1:9229 — a root debugger. First statement.
process.on('SIGUSR1', () => undefined);

import { parseFlags, type ShimFlags, UsageError } from './flags';
import type * as StartModule from './manager/start';
import type * as DeleteModule from './manager/delete';
import type * as ServeModule from './manager/serve';
import type * as SpareModule from './manager/spare';

export const RUNTIME_NAME = 'io.containerd.tsrunc.v2';
export const VERSION = '0.1.0';

/* eslint-disable @typescript-eslint/no-require-imports -- each action loads its own code, lazily */
function main(): void {
  let flags: ShimFlags;
  try {
    flags = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    fail(err);
  }
  const script = process.argv[1] ?? '';
  switch (flags.action) {
    case 'version':
      process.stdout.write(`containerd-shim-tsrunc-v2:\n  Runtime: ${RUNTIME_NAME}\n  Version: ${VERSION}\n  Node: ${process.version}\n`);
      process.exit(0);
      break;
    case 'info':
      fail(new UsageError('-info (runtime info for containerd 2.x) is not implemented'));
      break;
    case 'start': {
      const { start } = require('./manager/start') as typeof StartModule;
      start(flags, script).then(
        (address) => {
          process.stdout.write(address);
          process.exit(0);
        },
        (err: unknown) => fail(err),
      );
      break;
    }
    case 'delete': {
      const { del } = require('./manager/delete') as typeof DeleteModule;
      del(flags, (message) => process.stderr.write(`${message}\n`)).then(
        (response) => {
          process.stdout.write(response);
          process.exit(0);
        },
        (err: unknown) => fail(err),
      );
      break;
    }
    case 'spare': {
      process.on('SIGHUP', () => undefined);
      const { runSpare } = require('./manager/spare') as typeof SpareModule;
      runSpare(flags).then(
        (code) => process.exit(code),
        (err: unknown) => fail(err),
      );
      break;
    }
    case 'serve': {
      // the daemon must outlive the terminal or session it came from, from its first instant
      process.on('SIGHUP', () => undefined);
      const { serve } = require('./manager/serve') as typeof ServeModule;
      serve(flags).then(
        (end) => process.exit(end.code),
        (err: unknown) => fail(err),
      );
      break;
    }
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${RUNTIME_NAME}: ${message}\n`);
  process.exit(1);
}

main();
