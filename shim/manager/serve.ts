/**
 * The shim daemon's composition root (PROTOCOL §5): wires the pieces, serves, and shuts down.
 *
 *  - logs to the bundle's `log` FIFO (containerd reads it), which also becomes fd 2 so that a fatal
 *    Node error lands there too; SIGUSR1 writes a diagnostic report to it; SIGHUP is ignored;
 *    SIGTERM/SIGINT shut the daemon down (containers keep running);
 *  - child subreaper, the reaper and the one exit monitor, the exit tracker;
 *  - events: the ordered queue and the ttrpc publisher to TTRPC_ADDRESS;
 *  - the Task service under containerd.task.v2.Task and containerd.task.v3.Task on the listener
 *    inherited as fd 3, with the peer-credential handshake (same uid and gid only);
 *  - the working directory moves to / once serving: a grouped shim must not pin the first
 *    member's (later deleted) bundle, and nothing after start-up uses relative paths.
 *
 * Shutdown (after a Shutdown RPC with no container left, or a signal): stop accepting and finish
 * in-flight calls, remove the socket, close stdio handles, send every queued event (≤ 5 s).
 */
import { closeSync, constants, existsSync, fstatSync, openSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, renameService, requireSameUser } from 'ttrpc-ts';
import { loadNative } from '../../native';
import { TASK_SERVICE_V3, TaskServiceDefinition } from '../../proto';
import { EventPublisher } from '../events/publisher';
import { EventQueue } from '../events/queue';
import { type ShimFlags } from '../flags';
import { ExitMonitor, Reaper } from '../reaper';
import { TaskEvents } from '../task/events';
import { ExitTracker } from '../task/exits';
import { type Container } from '../container/container';
import { TaskService } from '../task/service';
import { CgroupStats } from '../cgroups/stats';
import { OomWatcher } from '../oom/watcher';
import { saveTrainedCodeCache } from '../util/code-cache';
import { IdleReclaim } from '../util/idle-reclaim';
import { Shutdown } from '../util/shutdown';
import { type Logger, createLogger, errorMessage } from '../util/log';
import { identifierProblem } from '../util/validate';
import { leaveDeleteAnswer } from './delete-answer';
import { socketPath } from './socket';
import { taskTitle } from './title';

const RUNTIME = 'io.containerd.tsrunc.v2';
const LISTENER_FD = 3;
const EVENT_DRAIN_MS = 5000;
/** How long shutdown lets in-flight calls finish before it closes the connections. */
const SERVE_GRACE_MS = 1000;

/** How serving ended: the exit code, and the signal that stopped it (not a Shutdown call), if one did. */
export interface ServeEnd {
  code: number;
  signal?: NodeJS.Signals;
}

/**
 * Serves until shut down. `bound`: the task's socket, bound already (a spare that was handed the
 * task); otherwise the listener inherited as fd 3.
 */
export async function serve(flags: ShimFlags, bound?: net.Server): Promise<ServeEnd> {
  if (!flags.namespace) throw new Error('shim namespace cannot be empty');
  const problem = identifierProblem(flags.namespace) ?? identifierProblem(flags.id);
  if (problem) throw new Error(`invalid namespace or id: ${problem}`);
  // a spare handed the task (`bound`) titled itself before it answered `start` (spare.ts)
  if (!bound) process.title = taskTitle(flags);

  const { log, fd: logFd } = openLog(flags);

  const native = loadNative();
  native.setChildSubreaper(true);
  const reaper = new Reaper({ native });
  const monitor = new ExitMonitor(reaper, native);
  const shutdown = new Shutdown((name, err) => log.error(`shutdown: ${name} failed`, { error: errorMessage(err) }));

  const eventsLog = log.module('events');
  const publisher = flags.ttrpcAddress ? new EventPublisher(flags.ttrpcAddress, flags.namespace) : undefined;
  if (!publisher) log.warn('TTRPC_ADDRESS is not set: events are not published');
  const queue = new EventQueue({
    send: publisher ? publisher.send : () => Promise.resolve(),
    isPermanent: (err) => EventPublisher.isPermanent(err),
    isAnswered: (err) => EventPublisher.isAnswered(err),
    onDrop: (event, why) => eventsLog.warn('event dropped', { topic: event.topic, reason: why }),
  });
  const events = new TaskEvents(queue);
  const cgroups = new CgroupStats({ log: log.module('cgroups') });
  const oom = new OomWatcher({ native, publish: (id) => events.oom(id), log: log.module('oom') });
  // Every exit goes out through here: a pending OOM of the container is published first, so the
  // OOM event always precedes the exit of the process it killed (oom/watcher.ts, flush).
  const tracker = new ExitTracker(
    monitor,
    (c, p, exit) => {
      oom.flush(c.id);
      events.exit(c, p, exit);
    },
    (message, err) => log.warn(message, { error: errorMessage(err) }),
    log.module('exits'),
  );
  /** Tracks a container's cgroup (Stats) and watches it for OOM kills, from its init's pid. */
  const watchCgroup = (c: Container): void => {
    const paths = cgroups.track(c.id, c.init.pid);
    if (paths) oom.watch(c.id, paths);
  };
  const service = new TaskService({
    namespace: flags.namespace,
    native,
    monitor,
    tracker,
    events,
    log: log.module('task'),
    onShutdown: () => void shutdown.shutdown(),
    stats: cgroups,
    deferOom: (id) => oom.defer(id),
    onContainerCreated: watchCgroup,
    // a restore: Create had no pid, so no cgroup to watch (Go's Start loads it the same way)
    onRestored: watchCgroup,
    onContainerDeleted: (c, clean) => {
      oom.unwatch(c.id);
      cgroups.forget(c.id);
      // the `delete` action's full cleanup is needed unless both are gone: what it would look at
      if (!clean || existsSync(c.runc.stateDir(c.id))) return;
      try {
        leaveDeleteAnswer(c.bundle, c.init.pid, Date.now());
      } catch (err) {
        log.warn('could not leave the delete answer in the bundle (the delete action will clean up in full)', { task: c.id, error: errorMessage(err) });
      }
    },
  });

  const reclaim = new IdleReclaim({ trim: () => native.trimMalloc(), release: () => void native.releaseFilePages() });
  const server = new Server({ handshake: requireSameUser((fd) => native.getPeerCred(fd)), onAnswered: () => reclaim.touch() });
  server.on('refused', (err: unknown) => log.warn('connection refused', { error: errorMessage(err) }));
  server.register(TaskServiceDefinition, service);
  server.register(renameService(TaskServiceDefinition, TASK_SERVICE_V3), service);

  const onReport = (): void => writeReport(log, () => ({ containers: service.size, pendingEvents: queue.pending, quietCollections: reclaim.collections, idleCollections: reclaim.idleCollections, fileReleases: reclaim.releases }));
  process.on('SIGUSR1', onReport);
  reaper.start();
  const detach = tracker.attach();
  await listen(server, flags, log, bound);
  const socketFile = flags.socket ? fileIdentity(socketPath(flags.socket)) : undefined;
  process.chdir('/');

  registerCleanups(shutdown, { server, queue, publisher, service, tracker, reaper, detach, flags, log, socketFile, oom });
  let stoppedBy: NodeJS.Signals | undefined;
  const onStop = (signal: NodeJS.Signals): void => {
    log.info(`${signal}: shutting down (containers keep running)`);
    stoppedBy ??= signal;
    void shutdown.shutdown();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  log.debug('serving', { pid: process.pid, socket: flags.socket });
  await shutdown.done;
  reclaim.stop();
  saveTrainedCodeCache(); // the connection is closed: nobody waits for this
  // What serving set up in the process goes with the task: a spare may live on in this process
  // (spare.ts), and must neither report, stop nor write into this task's log.
  process.off('SIGUSR1', onReport);
  process.off('SIGTERM', onStop);
  process.off('SIGINT', onStop);
  releaseLog(logFd);
  return stoppedBy === undefined ? { code: 0 } : { code: 0, signal: stoppedBy };
}

/** Opens the bundle's `log` FIFO write-only, non-blocking, and makes it fd 2 too. */
function openLog(flags: ShimFlags): { log: Logger; fd: number | undefined } {
  let fd: number | undefined;
  try {
    fd = openSync('log', constants.O_WRONLY | constants.O_NONBLOCK);
    if (fstatSync(fd).isFIFO()) dup2Quiet(fd, 2);
  } catch {
    fd = undefined; // no FIFO (run by hand, or containerd not holding it): log nowhere
  }
  return { log: createLogger({ fd, debug: flags.debug, fields: { runtime: RUNTIME, namespace: flags.namespace, id: flags.id }, trace: process.env['TSRUNC_TRACE'] ?? '' }), fd };
}

/**
 * Lets go of the task's log FIFO: /dev/null takes its place on fd 2 and on the log's own fd. That
 * fd stays open (on /dev/null), not closed: a line the logger still had on its way would otherwise
 * go to whatever file reused the number.
 */
function releaseLog(fd: number | undefined): void {
  let devNull: number;
  try {
    devNull = openSync('/dev/null', constants.O_WRONLY);
  } catch {
    return;
  }
  dup2Quiet(devNull, 2);
  if (fd !== undefined) dup2Quiet(devNull, fd, true); // inherited by no later runc
  closeSync(devNull);
}

function dup2Quiet(from: number, to: number, closeOnExec = false): void {
  try {
    loadNative().dup2(from, to, { closeOnExec });
  } catch {
    // keep what `to` was
  }
}

/** Serves on the inherited listener (fd 3), or binds -socket when run by hand without one. */
async function listen(server: Server, flags: ShimFlags, log: Logger, bound: net.Server | undefined): Promise<void> {
  if (bound) {
    await server.listen(bound);
    return;
  }
  if (isSocketFd(LISTENER_FD)) {
    await server.listen({ fd: LISTENER_FD });
    return;
  }
  if (!flags.socket) throw new Error('no listener on fd 3 and no -socket given');
  log.info('no inherited listener: binding the socket', { socket: flags.socket });
  await server.listen({ path: socketPath(flags.socket), unlinkOnClose: true });
}

function isSocketFd(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false; // not open
  }
}

interface Parts {
  server: Server;
  queue: EventQueue;
  publisher: EventPublisher | undefined;
  service: TaskService;
  tracker: ExitTracker;
  reaper: Reaper;
  detach: () => void;
  flags: ShimFlags;
  log: Logger;
  /** The socket file we serve on, as it was once we listened (undefined: could not tell). */
  socketFile: FileIdentity | undefined;
  oom: OomWatcher;
}

/** Which file a path names: a new file at the same path has another. */
interface FileIdentity {
  dev: number;
  ino: number;
}

function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Shutdown steps, run last-registered first: the order below is the reverse of execution. */
function registerCleanups(shutdown: Shutdown, p: Parts): void {
  shutdown.register('stop reaping', () => {
    p.detach();
    p.reaper.stop();
  });
  shutdown.register('close event connection', () => p.publisher?.close());
  shutdown.register('send queued events', async () => {
    if (!(await p.queue.drain(EVENT_DRAIN_MS))) p.log.warn('shutdown: events still queued after 5 s', { pending: p.queue.pending });
    p.queue.close();
  });
  // After the held exits are applied (below): each flushes its container's OOM first, which needs
  // the watch still open; before the drain, which sends that OOM.
  shutdown.register('stop OOM watching', () => p.oom.close());
  // An init exit held for its output (exits.ts, rule 5) is applied once its stdio is released:
  // the event drain after this step must find it queued.
  shutdown.register('release stdio', async () => {
    for (const c of p.service.all()) c.releaseIO();
    // bounded: a paused init's held exit waits for its resume, behind whatever its queue runs
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([p.tracker.deliveriesDone().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), EVENT_DRAIN_MS)))]);
    clearTimeout(timer);
    if (!done) p.log.warn('shutdown: an init exit is still held after 5 s');
  });
  // Nothing will accept on the socket again: its name goes before the (up to 5 s) event drain, so a
  // shim killed meanwhile leaves no dead socket, and a new start of the group can bind at once.
  // Only our own file: once we stopped listening, a new `start` of the group may have bound a
  // socket of its own at the path (it takes a refused socket for a dead shim's), which is not ours
  // to remove.
  shutdown.register('remove socket', () => {
    if (!p.flags.socket) return;
    const path = socketPath(p.flags.socket);
    const now = fileIdentity(path);
    if (now === undefined) return; // removed already (or by `delete`)
    if (p.socketFile !== undefined && (now.dev !== p.socketFile.dev || now.ino !== p.socketFile.ino)) return;
    try {
      unlinkSync(path);
    } catch {
      // removed meanwhile
    }
  });
  // Finish in-flight calls, but not forever: a Wait lasts as long as its process, and containerd
  // always has one in flight. After the grace period every connection is closed, as Go's shim does.
  shutdown.register('stop serving', async () => {
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace over'>((resolve) => (timer = setTimeout(() => resolve('grace over'), SERVE_GRACE_MS)));
    const outcome = await Promise.race([p.server.shutdown().then(() => 'drained' as const), graceOver]);
    clearTimeout(timer);
    if (outcome !== 'drained') await p.server.close();
  });
}

/**
 * SIGUSR1: a diagnostic report, as Go's shim dumps its goroutines. The full Node report (stacks,
 * heap, libuv handles) is far larger than the log FIFO's 64 KiB, so it goes to a 0600 file in the
 * temp dir and the log gets a summary line naming it.
 */
function writeReport(log: Logger, state: () => Record<string, number>): void {
  try {
    const path = join(tmpdir(), `tsrunc-shim-${process.pid}-${Date.now()}.report.json`);
    writeFileSync(path, JSON.stringify(process.report.getReport()), { mode: 0o600 });
    const mem = process.memoryUsage();
    log.info('diagnostic report (SIGUSR1)', { report: path, rss: mem.rss, heapUsed: mem.heapUsed, uptime: Math.round(process.uptime()), ...state() });
  } catch (err) {
    log.warn('SIGUSR1: cannot write a diagnostic report', { error: errorMessage(err) });
  }
}

