/**
 * The verbs that attach to a container's output: `run` and `exec`.
 *
 * `run -d` creates and starts the container and prints its id. Without `-d` it follows the
 * container's captured output (stdout to stdout, stderr to stderr) until the container has stopped
 * and its output is complete, forwards SIGINT/SIGTERM to it, removes it with `--rm`, and exits with
 * the container's exit status. A container that cannot be created gives docker's statuses: 127 (the
 * command was not found), 126 (not executable), 125 (anything else).
 *
 * `-t` gives the container a terminal (sized as ours), `-i` keeps its stdin open; either makes the
 * attached run an interactive session (attach.ts): our terminal in raw mode, input copied, ctrl-p
 * ctrl-q detaches. The exit status is still the container's.
 */
import { resolve } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';
import { u64 } from '../../proto/long';
import { api } from '../api/convert';
import { UsageError, parseArgs } from './args';
import { copyLogs, parseSignal } from './commands';
import { RESOURCE_FLAGS, resourcesFrom } from './resources';
import { attachTo, execInteractive, noExitStatus } from './attach';
import { windowSize } from './session';
import type { CliContext, Command } from './context';
import { parseRestartPolicy } from '../tasks/restart-policy';

/** `run [-d] [--rm] [--name N] (--rootfs DIR | --bundle DIR) [-e K=V]... [-w DIR] [--runtime R] [--] CMD [ARG...]` */
export const run: Command = async (ctx, argv) => {
  const a = parseArgs(
    argv,
    [
      { names: ['-d', '--detach'], kind: 'bool', key: 'detach' },
      { names: ['--rm'], kind: 'bool', key: 'rm' },
      { names: ['--name'], kind: 'string', key: 'name' },
      { names: ['--rootfs'], kind: 'string', key: 'rootfs' },
      { names: ['--bundle'], kind: 'string', key: 'bundle' },
      { names: ['-e', '--env'], kind: 'list', key: 'env' },
      { names: ['-w', '--workdir'], kind: 'string', key: 'cwd' },
      { names: ['--runtime'], kind: 'string', key: 'runtime' },
      { names: ['-l', '--label'], kind: 'list', key: 'label' },
      { names: ['--log-max-size'], kind: 'string', key: 'maxSize' },
      { names: ['--log-max-files'], kind: 'string', key: 'maxFiles' },
      { names: ['--restart'], kind: 'string', key: 'restart' },
      ...RESOURCE_FLAGS,
      { names: ['-t', '--tty'], kind: 'bool', key: 'tty' },
      { names: ['-i', '--interactive'], kind: 'bool', key: 'interactive' },
    ],
    true,
  );
  const tty = a.bools.has('tty');
  const interactive = a.bools.has('interactive');
  const size = windowSize() ?? { width: 80, height: 24 };
  const rootfs = a.strings.get('rootfs') ?? '';
  const bundle = a.strings.get('bundle') ?? '';
  if ((rootfs === '') === (bundle === '')) throw new UsageError('run needs exactly one of --rootfs DIR and --bundle DIR');
  if (rootfs !== '' && a.positionals.length === 0) throw new UsageError('run --rootfs needs a command: tsrunc run --rootfs DIR -- CMD [ARG...]');
  const detach = a.bools.has('detach');
  const autoRemove = a.bools.has('rm');
  const restart = a.strings.get('restart');
  let restartPolicy: api.RestartPolicy | null = null;
  if (restart !== undefined) {
    let policy;
    try {
      policy = parseRestartPolicy(restart);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (autoRemove && policy.name !== 'no') throw new UsageError('conflicting options: --restart and --rm');
    restartPolicy = api.RestartPolicy.create({ name: policy.name, maxRetries: policy.maxRetries });
  }
  const labels = Object.fromEntries((a.lists.get('label') ?? []).map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
  const request = api.CreateRequest.create({
    name: a.strings.get('name') ?? '',
    runtime: a.strings.get('runtime') ?? '',
    // the daemon runs elsewhere: a relative path is the user's, from here
    rootfs: rootfs === '' ? '' : resolve(rootfs),
    bundle: bundle === '' ? '' : resolve(bundle),
    args: [...a.positionals],
    env: [...(a.lists.get('env') ?? [])],
    cwd: a.strings.get('cwd') ?? '',
    // attached, the client removes the container itself once it has all the output (a session
    // detached from asks the daemon to, see attachTo)
    autoRemove: autoRemove && detach,
    restartPolicy,
    labels,
    start: true,
    logConfig: api.LogConfig.create({ maxSize: u64(sizeArg(a.strings.get('maxSize'))), maxFiles: countArg(a.strings.get('maxFiles')) }),
    resources: resourcesFrom(a),
    terminal: tty,
    size: tty ? api.WindowSize.create(size) : null,
    stdin: interactive,
  });
  let created: api.CreateResponse;
  try {
    created = await ctx.client().call('create', request);
  } catch (err) {
    if (err instanceof ErrdefsError) return createFailure(ctx, err);
    throw err;
  }
  const id = created.container?.id ?? '';
  if (detach) {
    ctx.out(`${id}\n`);
    return 0;
  }
  const forward = (signal: NodeJS.Signals): void => {
    ctx.client()
      .call('kill', api.KillRequest.create({ ref: id, signal: parseSignal(signal), all: false }))
      .catch(() => undefined);
  };
  const onInt = (): void => forward('SIGINT');
  const onTerm = (): void => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    if (tty || interactive) {
      const end = await attachTo(ctx, id, { tty, stdin: interactive, logs: true, removeOnDetach: autoRemove });
      if (end.kind === 'detached') return 0;
      if (end.kind === 'exited') {
        if (autoRemove) await ctx.client().call('remove', api.RemoveRequest.create({ ref: id, force: true }));
        return end.status;
      }
    } else {
      await copyLogs(ctx, id, true);
    }
    const waited = await ctx.client().call('wait', api.WaitRequest.create({ ref: id }));
    if (autoRemove) await ctx.client().call('remove', api.RemoveRequest.create({ ref: id, force: true }));
    return waited.exitStatus;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
};

function createFailure(ctx: CliContext, err: ErrdefsError): number {
  ctx.stderr.write(`tsrunc: ${err.detail || err.message}\n`);
  if (/executable file not found|no such file or directory/i.test(err.message)) return 127;
  if (/permission denied/i.test(err.message)) return 126;
  return 125;
}

function sizeArg(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^(\d+)([kmg]?)b?$/i.exec(text);
  if (m === null) throw new UsageError(`invalid size: ${text} (e.g. 10m)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

function countArg(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`invalid file count: ${text}`);
  return Number(text);
}

/** `exec [-e K=V]... [-w DIR] CONTAINER [--] CMD [ARG...]` — exits with the command's status. */
export const exec: Command = async (ctx, argv) => {
  const a = parseArgs(
    argv,
    [
      { names: ['-e', '--env'], kind: 'list', key: 'env' },
      { names: ['-w', '--workdir'], kind: 'string', key: 'cwd' },
      { names: ['-t', '--tty'], kind: 'bool', key: 'tty' },
      { names: ['-i', '--interactive'], kind: 'bool', key: 'interactive' },
    ],
    true,
  );
  const [ref, ...args] = a.positionals;
  if (ref === undefined || args.length === 0) throw new UsageError('exec needs a container and a command: tsrunc exec CONTAINER -- CMD [ARG...]');
  if (a.bools.has('tty') || a.bools.has('interactive')) {
    return execInteractive(ctx, { ref, args, env: [...(a.lists.get('env') ?? [])], cwd: a.strings.get('cwd') ?? '' }, a.bools.has('tty'), a.bools.has('interactive'));
  }
  let status: number | undefined;
  const stream = ctx.client().stream('exec', api.ExecRequest.create({ ref, args, env: [...(a.lists.get('env') ?? [])], cwd: a.strings.get('cwd') ?? '' }));
  for await (const message of stream) {
    if (message.exited) status = message.exitStatus;
    else await ctx.write(message.stream === api.Stream.STREAM_STDERR ? 'stderr' : 'stdout', message.data);
  }
  if (status === undefined) throw noExitStatus();
  return status;
};
