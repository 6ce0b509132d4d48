/**
 * `tsrunc`: the CLI entry point (bin/tsrunc). Wiring only: global flags (`--root DIR` before the
 * verb, or TSRUNC_ROOT), then one verb. `daemon` runs the supervisor; `log-driver` is the binary://
 * log driver shims start (it loads neither grpc-js nor protobufjs). Errors print one line,
 * `tsrunc: <what went wrong>`, and exit 1 (2 for usage mistakes). One of the two places of
 * supervisor/ that may call process.exit.
 */
// An unhandled SIGUSR1 opens Node's inspector on 127.0.0.1:9229 — a root debugger. First statement.
process.on('SIGUSR1', () => undefined);

import type * as ShimDebugModule from './shim-debug';
import type * as CommandsModule from './commands';
import type * as RunModule from './run';
import type * as ResourcesModule from './resources';
import type * as AttachModule from './attach';
import type * as DaemonModule from '../main';
import type * as DriverModule from '../logging/driver';
import type * as ContextModule from './context';
import type * as ConfigModule from '../config';
import type * as VersionModule from '../version';
import type * as ConvertModule from '../api/convert';
import { UsageError } from './args';
import type { Command } from './context';

const USAGE = `Usage: tsrunc [--root DIR] COMMAND [OPTIONS]

Run OCI containers under a supervisor, through containerd's shim-v2 contract.

Commands:
  daemon [--namespace NS] [--debug]   run the supervisor (foreground)
  run [-d] [-t] [-i] [--rm] [--name N] (--rootfs DIR | --bundle DIR) [-e K=V]... [-w DIR] [--runtime R]
      [--memory SIZE] [--cpus N.N] [--pids-limit N] [--restart POLICY]
      [--log-max-size SIZE] [--log-max-files N] [--] CMD [ARG...]
  ps [-a] [-q] [--json]               list containers (running ones unless -a)
  inspect CONTAINER...                show containers as JSON
  exec [-t] [-i] [-e K=V]... [-w DIR] CONTAINER [--] CMD [ARG...]
  attach [--no-stdin] CONTAINER       connect to a running container's terminal (or stdin and output)
  start CONTAINER...                  start created containers
  kill [-s SIGNAL] [--all] CONTAINER...
  stop [-t SECONDS] CONTAINER...      SIGTERM, then SIGKILL after the timeout (10 s)
  rm [-f] CONTAINER...                remove containers (-f: kill running ones first)
  logs [-f] [--tail N] [--since T] [-t] CONTAINER
                                      show (or follow) a container's output
  shim CONTAINER state|pids [--json]  ask the container's shim directly over ttrpc (as ctr shim)
  update [--memory SIZE] [--cpus N.N] [--pids-limit N] CONTAINER...
                                      change the limits of running containers
  stats [--no-stream] [--json] [CONTAINER...]
                                      CPU %, memory and pids (every second until ^C)
  pause CONTAINER...                  freeze every process of running containers
  resume CONTAINER...                 thaw paused containers (also: unpause)
  events [--json] [CONTAINER]         stream events until interrupted
  version                             show client and daemon versions

Terminals: -t gives the process a terminal (sized as yours, resized with it), -i keeps its stdin
open (attach later with tsrunc attach); ctrl-p ctrl-q detaches, leaving it running.

Restart policies: --restart no (default), on-failure[:N] (non-zero exits, at most N times),
always; backoff from 100 ms doubling to 10 s, reset after 10 s of running; stop and rm end them.

Logs: --log-max-size 10m and --log-max-files 3 per container (rotated files); logs --since takes
an RFC 3339 time or a duration (10s, 5m, 1h) before now; -t prefixes each line with its time.

Limits: --memory 64m (b, k, m, g), --cpus 1.5 (CFS quota over a 100 ms period),
--pids-limit 100 (-1: unlimited).

Global options:
  --root DIR    keep state in DIR/lib and DIR/run (default /var/lib/tsrunc, /run/tsrunc; env TSRUNC_ROOT)
`;

/* eslint-disable @typescript-eslint/no-require-imports -- verbs load their code lazily */
function verbs(): Record<string, Command> {
  const c = require('./commands') as typeof CommandsModule;
  const r = require('./run') as typeof RunModule;
  const res = require('./resources') as typeof ResourcesModule;
  const att = require('./attach') as typeof AttachModule;
  return {
    ...{ ps: c.ps, inspect: c.inspect, start: c.start, kill: c.kill, stop: c.stop, rm: c.rm, logs: c.logs, events: c.events, run: r.run, exec: r.exec },
    ...{ update: res.update, stats: res.stats, pause: res.pause, resume: res.resume, unpause: res.resume },
    ...{ attach: att.attach },
    ...{ shim: (require('./shim-debug') as typeof ShimDebugModule).shim },
  };
}

function main(argv: readonly string[]): void {
  // a reader that went away (`tsrunc logs web | head`): stop quietly, as other tools do
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  let root: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--root') {
      root = argv[++i];
      if (root === undefined) fail(new UsageError('--root needs a directory'), 2);
    } else if (arg.startsWith('--root=')) {
      root = arg.slice('--root='.length);
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) {
      fail(new UsageError(`unknown global flag ${arg}`), 2);
    } else {
      break;
    }
  }
  const verb = argv[i];
  const rest = argv.slice(i + 1);
  switch (verb) {
    case undefined:
    case 'help':
      process.stdout.write(USAGE);
      process.exit(verb === undefined ? 2 : 0);
      break;
    case 'log-driver': {
      const { runLogDriver } = require('../logging/driver') as typeof DriverModule;
      const dir = rest[0];
      if (dir === undefined) fail(new UsageError('log-driver needs a directory'), 2);
      runLogDriver(dir).then(
        (code) => process.exit(code),
        (err: unknown) => fail(err, 1),
      );
      break;
    }
    case 'daemon': {
      const { daemonMain } = require('../main') as typeof DaemonModule;
      daemonMain(rest, root);
      break;
    }
    default:
      runVerb(verb, rest, root);
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

function runVerb(verb: string, rest: readonly string[], root: string | undefined): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { CliContext } = require('./context') as typeof ContextModule;
  const { pathsFor, rootFrom } = require('../config') as typeof ConfigModule;
  const { VERSION } = require('../version') as typeof VersionModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const ctx = new CliContext(pathsFor(rootFrom(root, process.env)));
  let command: Command | undefined;
  if (verb === 'version') {
    command = async (c) => {
      c.out(`Client: tsrunc ${VERSION} (node ${process.version})\n`);
      const { api } = require('../api/convert') as typeof ConvertModule; // eslint-disable-line @typescript-eslint/no-require-imports
      const v = await c.client().call('version', api.VersionRequest.create());
      c.out(`Daemon: tsrunc ${v.version} (pid ${v.pid}, namespace ${v.namespace}, root ${v.root === '' ? 'default' : v.root})\n`);
      return 0;
    };
  } else {
    command = verbs()[verb];
  }
  if (command === undefined) fail(new UsageError(`unknown command ${JSON.stringify(verb)} (see tsrunc --help)`), 2);
  command(ctx, rest).then(
    (code) => {
      ctx.close();
      process.exit(code);
    },
    (err: unknown) => {
      ctx.close();
      fail(err, err instanceof UsageError ? 2 : 1);
    },
  );
}

function fail(err: unknown, code: number): never {
  const e = err as { detail?: unknown; message?: unknown };
  const message = typeof e.detail === 'string' && e.detail !== '' ? e.detail : typeof e.message === 'string' ? e.message : String(err);
  process.stderr.write(`tsrunc: ${message}\n`);
  process.exit(code);
}

main(process.argv.slice(2));
