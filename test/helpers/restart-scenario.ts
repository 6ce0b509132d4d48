/**
 * containerd SIGKILLed and restarted (once in `npm test`, many times in the soak) while two
 * containers of ours write a numbered line every ~5 ms — one to its stdout FIFO (read by this
 * process, attached before the first line), one through a `file://` log. Asserts: containers and
 * shims outlive every outage, the tasks are RUNNING on each new containerd, lines keep arriving
 * during each outage, and in the end every line arrives exactly once and in order on both; Wait
 * through the NEW containerd's gRPC API and on the shims returns the exit statuses, and the new
 * containerd publishes them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { type Containerd } from './containerd';
import { ContainerdApi } from './containerd-grpc';
import { EventWatcher } from './events';
import { sharedRootfs } from './rootfs';
import { OUR_RUNTIME, uniqueId } from './runtimes';
import { connectTask } from './shim-client';
import { SIG, caughtSignals, exited } from './shim-metrics';
import { waitFor } from './wait';

/**
 * A writer that waits for SIGUSR2, then prints `line N` every ~5 ms until SIGUSR1, then `end N`,
 * then idles until SIGTERM makes it exit with `code`. Gating the start on a signal means no line is
 * written before the test's reader is attached.
 */
export function writerScript(code: number): string {
  return [
    `trap 'go=1' USR2; trap 'stop=1' USR1; trap 'exit ${code}' TERM`,
    'while [ -z "$go" ]; do usleep 10000; done',
    'i=0',
    'while [ -z "$stop" ]; do i=$((i+1)); echo "line $i"; usleep 5000; done',
    'echo "end $i"',
    'while :; do usleep 20000; done',
  ].join('\n');
}

/** Checks `text` is exactly `line 1` … `line N`, `end N`; returns N. */
export function assertNumberedLines(text: string, what: string): number {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', `${what}: ends with a newline`);
  const last = lines.pop() ?? '';
  const m = /^end (\d+)$/.exec(last);
  assert.ok(m, `${what}: last line is "end N", got ${JSON.stringify(last)}`);
  const n = Number(m[1]);
  for (let i = 0; i < Math.min(n, lines.length); i++) {
    if (lines[i] !== `line ${i + 1}`) assert.fail(`${what}: line ${i + 1} is ${JSON.stringify(lines[i])} (lost, duplicated or out of order)`);
  }
  assert.equal(lines.length, n, `${what}: ${n} numbered lines expected, got ${lines.length}`);
  return n;
}

/**
 * Reads a FIFO from the test process without blocking a thread (PROTOCOL §13.3). It can let go of
 * the FIFO and open it again later (a client that goes away and re-attaches, as `ctr task attach`):
 * `text` is everything read through every attachment, in order.
 */
export class FifoReader {
  text = '';
  ended = false;
  private socket: net.Socket | undefined;

  constructor(private readonly path: string) {
    this.attach();
  }

  /** Opens the FIFO for reading (again). */
  attach(): void {
    if (this.socket) return;
    const fd = openSync(this.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const socket = new net.Socket({ fd, readable: true, writable: false });
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => (this.text += s));
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
    this.socket = socket;
  }

  /** Closes our read end: until `attach`, only the shim's keep-open reader holds the FIFO. */
  detach(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  lines(): number {
    let n = 0;
    for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) n++;
    return n;
  }

  close(): void {
    this.detach();
  }
}

/** `ctr task ls` as {id → {pid, status}}. */
export async function taskList(ct: Containerd): Promise<Map<string, { pid: number; status: string }>> {
  const out = await ct.ctrOk(['task', 'ls']);
  const map = new Map<string, { pid: number; status: string }>();
  for (const line of out.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid && status) map.set(id, { pid: Number(pid), status });
  }
  return map;
}

export interface RestartFigures {
  restarts: number;
  outageMs: number;
  fifoLines: number;
  fileLines: number;
  /** Lines that arrived while containerd was down, per outage. */
  duringOutages: { fifo: number; file: number }[];
  ms: number;
}

/**
 * Runs the scenario (see the file comment) with `restarts` outages of `outageMs` each. With
 * `detachReader`, the FIFO's reader goes away with containerd on outages 0, 2, 4, … and a new one
 * attaches after the restart: the lines written meanwhile wait in the FIFO (the shim's keep-open
 * reader means the container never gets EPIPE) and reach the new reader, none lost.
 */
export async function containerdRestartScenario(ct: Containerd, restarts: number, outageMs: number, detachReader = false): Promise<RestartFigures> {
  const started = Date.now();
  const fifoId = uniqueId('rf');
  const fileId = uniqueId('rl');
  const scratch = mkdtempSync('/tmp/tsrunc-restart-');
  const logPath = join(scratch, `${fileId}.log`);
  await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), fifoId, '/bin/sh', '-c', writerScript(42)]);
  await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--log-uri', `file://${logPath}`, '--rootfs', sharedRootfs(), fileId, '/bin/sh', '-c', writerScript(43)]);
  let reader: FifoReader | undefined;
  let events: EventWatcher | undefined;
  const api = new ContainerdApi(ct);
  try {
    const pids: Record<string, { task: number; shim: number; stdout: string }> = {};
    for (const id of [fifoId, fileId]) {
      const { task, close } = await connectTask(ct.shimSocket(id));
      const state = await task.state({ id, execId: '' });
      pids[id] = { task: state.pid, shim: (await task.connect({ id })).shimPid, stdout: state.stdout };
      await close();
    }
    const a = pids[fifoId] ?? { task: 0, shim: 0, stdout: '' };
    const b = pids[fileId] ?? { task: 0, shim: 0, stdout: '' };
    assert.ok(a.stdout.startsWith('/'), `the stdout FIFO path from State (${a.stdout})`);
    const r = (reader = new FifoReader(a.stdout));
    const fileText = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
    const fileLines = (): number => fileText().split('\n').length - 1;

    await waitFor(() => caughtSignals(a.task).has(SIG.USR2) && caughtSignals(b.task).has(SIG.USR2), { what: 'the writers to install their traps' });
    process.kill(a.task, 'SIGUSR2');
    process.kill(b.task, 'SIGUSR2');
    await waitFor(() => r.lines() >= 50 && fileLines() >= 50, { what: 'the first 50 lines of both writers', timeoutMs: 20_000 });

    const duringOutages: { fifo: number; file: number }[] = [];
    for (let k = 0; k < restarts; k++) {
      const detached = detachReader && k % 2 === 0;
      await ct.kill();
      if (detached) r.detach();
      const atKill = { fifo: r.lines(), file: fileLines() };
      // the outage itself: containerd stays down while the containers keep writing
      await new Promise((resolve) => setTimeout(resolve, outageMs));
      const during = { fifo: r.lines() - atKill.fifo, file: fileLines() - atKill.file };
      duringOutages.push(during);
      assert.ok([a.task, b.task, a.shim, b.shim].every((p) => !exited(p)), `outage ${k}: containers and shims outlive containerd`);
      assert.ok((detached || during.fifo > 0) && during.file > 0, `outage ${k}: lines kept arriving while containerd was down (${JSON.stringify(during)})`);
      await ct.launch();
      if (detached) {
        r.attach();
        // what the container wrote while nobody read is waiting in the FIFO for the new reader
        await waitFor(() => r.lines() > atKill.fifo + 20, { what: `the lines written while no reader was attached (outage ${k})`, timeoutMs: 5000 });
      }
      const listed = await taskList(ct);
      assert.deepEqual(listed.get(fifoId), { pid: a.task, status: 'RUNNING' }, `restart ${k}: FIFO task`);
      assert.deepEqual(listed.get(fileId), { pid: b.task, status: 'RUNNING' }, `restart ${k}: file task`);
      const now = { fifo: r.lines(), file: fileLines() };
      await waitFor(() => r.lines() >= now.fifo + 20 && fileLines() >= now.file + 20, { what: `more lines after restart ${k}`, timeoutMs: 20_000 });
    }

    events = await EventWatcher.start(ct);
    process.kill(a.task, 'SIGUSR1');
    process.kill(b.task, 'SIGUSR1');
    await waitFor(() => /end \d+\n$/.test(r.text) && /end \d+\n$/.test(fileText()), { what: 'both writers to print their last line', timeoutMs: 10_000 });

    // Wait through the NEW containerd (gRPC Tasks/Wait) and on the shims, then the exits
    const waitA = api.waitTask(fifoId);
    const waitB = api.waitTask(fileId);
    const shimA = await connectTask(ct.shimSocket(fifoId));
    const shimB = await connectTask(ct.shimSocket(fileId));
    try {
      const ttrpcA = shimA.task.wait({ id: fifoId, execId: '' });
      const ttrpcB = shimB.task.wait({ id: fileId, execId: '' });
      await ct.ctrOk(['task', 'kill', '--signal', 'SIGTERM', fifoId]);
      await ct.ctrOk(['task', 'kill', '--signal', 'SIGTERM', fileId]);
      assert.equal((await waitA).exitStatus, 42, 'Wait on the new containerd (FIFO task)');
      assert.equal((await waitB).exitStatus, 43, 'Wait on the new containerd (file:// task)');
      assert.equal((await ttrpcA).exitStatus, 42, 'Wait on the shim (FIFO task)');
      assert.equal((await ttrpcB).exitStatus, 43, 'Wait on the shim (file:// task)');
    } finally {
      await shimA.close();
      await shimB.close();
    }
    const ev = events;
    await ev.until((all) => [fifoId, fileId].every((id) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === id)), 'exit events on the new containerd');
    assert.equal(ev.forContainer(fifoId).find((e) => e.topic === '/tasks/exit')?.event['exit_status'], 42);
    assert.equal(ev.forContainer(fileId).find((e) => e.topic === '/tasks/exit')?.event['exit_status'], 43);

    await waitFor(() => r.ended, { what: 'EOF on the stdout FIFO after the exit' });
    const fifoLines = assertNumberedLines(r.text, 'stdout FIFO');
    const total = assertNumberedLines(fileText(), 'file:// log');
    return { restarts, outageMs, fifoLines, fileLines: total, duringOutages, ms: Date.now() - started };
  } finally {
    events?.stop();
    reader?.close();
    api.close();
    for (const id of [fifoId, fileId]) {
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}
