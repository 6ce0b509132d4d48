/**
 * The interactive verbs' halves: `attach CONTAINER`, the attached part of `run -i/-t`, and
 * `exec -i/-t` (session.ts does the terminal work). Detaching (ctrl-p ctrl-q) exits 0 and leaves
 * the container running; otherwise each exits with the process's status.
 */
import { ErrdefsError } from '../../proto/errdefs';
import { api } from '../api/convert';
import { UsageError, parseArgs } from './args';
import type { CliContext, Command } from './context';
import { type SessionEnd, runSession, windowSize } from './session';

/** Attaches to container `id`; `logs`: from the start of its output (run). */
export async function attachTo(ctx: CliContext, ref: string, options: { tty: boolean; stdin: boolean; logs: boolean; removeOnDetach?: boolean }): Promise<SessionEnd> {
  const call = ctx.client().duplex('attach');
  call.send(api.AttachInput.create({ ref, logs: options.logs }));
  const end = await runSession(ctx, call, (m) => api.AttachInput.create(m), {
    tty: options.tty,
    stdin: options.stdin,
    stderrStream: api.Stream.STREAM_STDERR,
    detachMessage: true,
    onDetach: options.removeOnDetach === true ? () => call.send(api.AttachInput.create({ autoRemove: true })) : undefined,
  });
  if (end.kind === 'detached') ctx.stderr.write('\r\ntsrunc: detached (the container keeps running)\r\n');
  return end;
}

/** `attach [--no-stdin] CONTAINER` */
export const attach: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['--no-stdin'], kind: 'bool', key: 'noStdin' }], false);
  if (a.positionals.length !== 1) throw new UsageError('attach needs exactly one container');
  const { container } = await ctx.client().call('inspect', api.InspectRequest.create({ ref: a.positionals[0] ?? '' }));
  const c = container as api.Container;
  const end = await attachTo(ctx, c.id, { tty: c.terminal, stdin: c.stdin && !a.bools.has('noStdin'), logs: false });
  if (end.kind === 'exited') return end.status;
  if (end.kind === 'detached') return 0;
  // the daemon ended the session without the exit (it shut down): its Wait, or its error, as `run` does
  const waited = await ctx.client().call('wait', api.WaitRequest.create({ ref: c.id }));
  return waited.exitStatus;
};

/** The interactive `exec -i/-t`: runs the command with our input and/or a terminal; its exit status. */
export async function execInteractive(ctx: CliContext, request: { ref: string; args: string[]; env: string[]; cwd: string }, tty: boolean, stdin: boolean): Promise<number> {
  const call = ctx.client().duplex('execAttach');
  const size = windowSize();
  call.send(api.ExecInput.create({ start: api.ExecRequest.create({ ...request, terminal: tty, stdin, size: tty && size !== undefined ? api.WindowSize.create(size) : null }) }));
  const end = await runSession(ctx, call, (m) => api.ExecInput.create(m), { tty, stdin, stderrStream: api.Stream.STREAM_STDERR });
  if (end.kind === 'detached') ctx.stderr.write('\r\ntsrunc: detached (the process keeps running)\r\n');
  if (end.kind === 'ended') throw noExitStatus();
  return end.kind === 'exited' ? end.status : 0;
}

/** An exec whose stream ended without the command's exit status (the daemon shut down under it): not a success. */
export function noExitStatus(): ErrdefsError {
  return new ErrdefsError('unavailable', 'the daemon ended the exec before the command exited: its exit status is unknown');
}
