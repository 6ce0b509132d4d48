/**
 * `tsrunc daemon`: the supervisor's entry point (also runnable as `node dist/supervisor/main.js`).
 * Wiring only: flags → config → Daemon; SIGTERM/SIGINT stop it (containers keep running). One of
 * the two places of supervisor/ that may call process.exit.
 */
// An unhandled SIGUSR1 opens Node's inspector on 127.0.0.1:9229 — a root debugger. First statement.
process.on('SIGUSR1', () => writeDiagnosticReport());

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DaemonConfig, daemonConfig, rootFrom } from './config';
import { Daemon } from './daemon';
import { createLogger, errorMessage } from './util/log';

/** SIGUSR1: a Node diagnostic report (stacks, heap, handles) in the temp dir; never the inspector. */
function writeDiagnosticReport(): void {
  try {
    // 0600: a report holds the environment; written whole, by us (process.report.writeReport uses 0644)
    const file = join(tmpdir(), `tsrunc-daemon-report-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(process.report.getReport()), { mode: 0o600, flag: 'wx' });
    process.stderr.write(`SIGUSR1: diagnostic report written to ${file}\n`);
  } catch {
    // a diagnostic must never take the daemon down
  }
}

/** Parsed daemon flags. */
interface DaemonFlags {
  root: string | undefined;
  namespace: string | undefined;
  debug: boolean;
}

function parseDaemonFlags(argv: readonly string[]): DaemonFlags {
  const flags: DaemonFlags = { root: undefined, namespace: undefined, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    if (name === '--root') flags.root = value();
    else if (name === '--namespace') flags.namespace = value();
    else if (name === '--debug' || name === '-D') flags.debug = true;
    else throw new Error(`unknown daemon flag ${arg} (known: --root DIR, --namespace NS, --debug)`);
  }
  return flags;
}

/** Runs the daemon until SIGTERM/SIGINT; never returns (exits the process). */
export function daemonMain(argv: readonly string[], globalRoot?: string): void {
  process.on('SIGHUP', () => undefined); // outlive the terminal it was started from
  let debug: boolean;
  let config: DaemonConfig;
  try {
    const flags = parseDaemonFlags(argv);
    debug = flags.debug || process.env['TSRUNC_DEBUG'] === '1';
    config = daemonConfig({ root: rootFrom(flags.root ?? globalRoot, process.env), namespace: flags.namespace ?? process.env['TSRUNC_NAMESPACE'], debug });
  } catch (err) {
    process.stderr.write(`tsrunc daemon: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const log = createLogger('daemon', { debug });
  const daemon = new Daemon(config, log);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { err: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  daemon.start().catch((err: unknown) => {
    log.error(`cannot start: ${errorMessage(err)}`);
    process.exit(1);
  });
}

if (require.main === module) daemonMain(process.argv.slice(2));
