/**
 * Runs one runc invocation through the injected process monitor (so its exit is seen by the one
 * exit monitor, never stolen by the reaper), collects its output, and turns a failure into a
 * RuncError carrying runc's own message from this invocation's part of log.json.
 */
import { type ProcessMonitor, type StdioSpec } from '../reaper';
import { RuncError, lastLogError, logOffset } from './errors';

export interface CommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** runc's log.json, read back on failure. */
  log: string;
  /** fds for runc's stdin/stdout/stderr (create/exec hand the container's stdio this way); output is then not captured. */
  stdio?: [number | 'ignore', number | 'ignore', number | 'ignore'];
  /** Bytes for runc's stdin (e.g. `update --resources -`). */
  input?: string | Buffer;
}

export interface CommandResult {
  stdout: string;
  output: string;
}

/** Runs `binary args…`; resolves with its output, or rejects with a RuncError. */
export async function runCommand(monitor: ProcessMonitor, binary: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const offset = logOffset(options.log);
  const capture = options.stdio === undefined;
  const stdio: StdioSpec[] = options.stdio ? [...options.stdio] : [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
  const { child, exit } = monitor.spawn(binary, args, { cwd: options.cwd, env: options.env, stdio });
  let stdout = '';
  let output = '';
  if (capture) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      output += s;
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  }
  if (options.input !== undefined) child.stdin?.end(options.input);
  const streamsDone = capture ? Promise.all([ended(child.stdout), ended(child.stderr)]) : Promise.resolve();
  const [{ status }] = await Promise.all([exit, streamsDone]);
  const command = args.find((a) => !a.startsWith('-') && !isGlobalValue(args, a)) ?? '';
  if (status !== 0) throw new RuncError(command, status, output, lastLogError(options.log, offset));
  return { stdout, output };
}

function ended(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('error', () => resolve());
    stream.once('close', resolve);
  });
}

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu']);

/** True when `arg` is the value of a global flag (so the subcommand is the first other word). */
function isGlobalValue(args: readonly string[], arg: string): boolean {
  const i = args.indexOf(arg);
  return i > 0 && GLOBAL_WITH_VALUE.has(args[i - 1] ?? '');
}
