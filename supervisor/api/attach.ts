/**
 * The two interactive calls, both bidirectional streams:
 *
 *   Attach — a container's output comes from its captured log (the log driver writes what the shim
 *   copies out of the pty or pipes), followed from the start (`logs`, as `run` does) or from now;
 *   input goes to the stdin FIFO the daemon holds; window sizes to the shim's ResizePty. The stream
 *   ends with the container's exit once its output is complete. A client that ends the call (or
 *   dies) detaches: nothing of the container changes, its stdin stays open. A client detaching
 *   from `run --rm` sends `auto_remove` first: the container is removed once it stops. `detach`
 *   (or the client's end of input) ends the call from our side.
 *
 *   ExecAttach — an exec with stdin and/or a terminal (tasks/exec.ts), its output as Exec sends it.
 *
 * Taking the terminal's output from the log, rather than from a second reader of the pty, is what
 * keeps `logs` complete for terminal containers and lets any number of clients attach and detach.
 */
import type { Exchange } from '../events/exchange';
import { followLog } from '../logging/reader';
import { hasTask } from '../store/types';
import type { ExecControl } from '../tasks/exec';
import type { TaskManager } from '../tasks/task-manager';
import { errorMessage } from '../util/log';
import { api } from './convert';

/** Where a handler writes (handlers.ts StreamSink, structurally: importing it would make a cycle). */
interface StreamSink<T> {
  write(message: T): Promise<void>;
  readonly signal: AbortSignal;
}

/** After the task is gone, how long an attached client waits for the log driver's final marker. */
const END_GRACE_MS = 5_000;

/** The first message of a client stream (InvalidArgument-free: an empty call just ends). */
async function first<T>(input: AsyncIterator<T>): Promise<T | undefined> {
  const r = await input.next();
  return r.done === true ? undefined : r.value;
}

/** `Attach`. */
export async function attach(tasks: TaskManager, exchange: Exchange, input: AsyncIterable<api.AttachInput>, sink: StreamSink<api.AttachOutput>): Promise<void> {
  const it = input[Symbol.asyncIterator]();
  const hello = await first(it);
  if (hello === undefined) return;
  const since = new Date().toISOString();
  const record = tasks.inspect(hello.ref);
  // `run` attaches from the start: its container may have stopped already (its output is still read)
  const stdio = hello.logs && !hasTask(record.status) ? undefined : tasks.stdio(record.id);
  // the client detaches by saying so (after its last messages), or by going away
  const detached = new AbortController();
  void (async () => {
    try {
      for (let r = await it.next(); r.done !== true; r = await it.next()) {
        const m = r.value;
        if (m.resize != null) await stdio?.resize(m.resize.width ?? 0, m.resize.height ?? 0);
        if (m.stdin.length > 0) await stdio?.write(m.stdin);
        if (m.closeStdin) await stdio?.closeStdin();
        if (m.autoRemove) await tasks.removeWhenStopped(record.id);
        if (m.detach) break;
      }
    } catch (err) {
      tasks.log.debug('attach input ended', { id: record.id, err: errorMessage(err) });
    }
    detached.abort();
  })();

  // The exit status, however it is learnt: the record (until an auto-removal drops it) or the exit event.
  let exitStatus: number | undefined;
  let ended = false;
  let goneSince: number | undefined;
  const shouldStop = (): boolean => {
    const current = tasks.store.find(record.id);
    if (current !== undefined && (current.status === 'creating' || hasTask(current.status))) {
      goneSince = undefined;
      return false;
    }
    if (current?.status === 'stopped') exitStatus = current.exitStatus ?? exitStatus;
    // stopped or even removed (auto-remove): the open log file is still read to the driver's end marker
    if (ended) return true;
    goneSince ??= Date.now();
    return Date.now() - goneSince > END_GRACE_MS;
  };
  const onWake = (wake: () => void): (() => void) =>
    exchange.subscribe((e) => {
      if (e.containerId !== record.id) return;
      if (e.topic === '/tasks/exit' && e.execId === '') exitStatus = e.exitStatus;
      wake();
    });
  const signal = AbortSignal.any([sink.signal, detached.signal]);
  for await (const r of followLog(record.logDir, { shouldStop, signal, onWake })) {
    if (r.kind === 'mark') ended = r.mark === 'eof';
    else if (hello.logs || r.time >= since) {
      await sink.write(api.AttachOutput.create({ stream: r.stream === 'stderr' ? api.Stream.STREAM_STDERR : api.Stream.STREAM_STDOUT, data: Buffer.from(r.log, 'utf8') }));
    }
  }
  if (signal.aborted) return; // detached
  exitStatus ??= tasks.store.find(record.id)?.exitStatus;
  await sink.write(api.AttachOutput.create({ exited: true, exitStatus: exitStatus ?? 0 }));
}

/** `ExecAttach`. */
export async function execAttach(tasks: TaskManager, input: AsyncIterable<api.ExecInput>, sink: StreamSink<api.ExecOutput>): Promise<void> {
  const it = input[Symbol.asyncIterator]();
  const hello = await first(it);
  // decoded nested messages are full ExecRequest instances (pbts types them as their properties)
  const req = hello?.start as api.ExecRequest | null | undefined;
  if (req == null) return;
  async function* controls(): AsyncGenerator<ExecControl> {
    for (let r = await it.next(); r.done !== true; r = await it.next()) {
      const m = r.value;
      if (m.resize != null) yield { kind: 'resize', width: m.resize.width ?? 0, height: m.resize.height ?? 0 };
      if (m.stdin.length > 0) yield { kind: 'stdin', data: m.stdin };
      if (m.closeStdin) yield { kind: 'close-stdin' };
    }
  }
  const terminal = req.terminal ? { width: req.size?.width ?? 0, height: req.size?.height ?? 0 } : undefined;
  const result = await tasks.exec(
    req.ref,
    { args: req.args, env: req.env, cwd: req.cwd, terminal, stdin: req.stdin },
    { write: (stream, data) => sink.write(api.ExecOutput.create({ stream: stream === 'stderr' ? api.Stream.STREAM_STDERR : api.Stream.STREAM_STDOUT, data })) },
    controls(),
  );
  await sink.write(api.ExecOutput.create({ exited: true, exitStatus: result.exitStatus, pid: result.pid, execId: result.execId }));
}
