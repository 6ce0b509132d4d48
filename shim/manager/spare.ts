/**
 * The spare daemon: a shim process started ahead of need, idle, with the daemon's code loaded, one
 * per process that runs shims (containerd). The shell entry point (bin/containerd-shim-tsrunc-v2)
 * hands it `start` and `delete` through its door (door.ts), so that neither starts Node:
 *
 *  - `start`: it binds the task's socket (or finds a live shim of the group on it: then it prints
 *    that address and stays a spare), settles itself as `start` settles a spawned daemon (ShimCgroup,
 *    oom score, shim.pid), prints the address, and from then on is that task's daemon exactly as a
 *    spawned one would be (serve.ts) — one process per task or group. It takes one task at most:
 *    its door closes at once. It has the shell start the next spare (`next`), which the shell does
 *    after a delay; a task deleted before that hands its process back: it opens a door again and
 *    is the spare (afterTask says when it does not), and the shell starts only the forking spare,
 *    if none is up (below).
 *  - `delete`: it runs the delete action (delete.ts) for the requester and stays a spare.
 *
 * A request it cannot take any more (it was adopted a moment ago, serves another request, retires,
 * or its code was rebuilt since it started) is answered `busy`: for a `start`, the shell then starts
 * a spare for that one request (`-request <pid>:<argc>`: no door, it serves that request as if it
 * came through one, then is adopted or exits) — one Node start per task in a burst instead of
 * two (the Node `start` action and the daemon it spawns). A request no spare can serve (stdio
 * /proc cannot reopen, a command line it does not understand) is answered `fallback`: the shell
 * runs the Node entry point, which does the same work.
 *
 * It exits when its containerd (TTRPC_ADDRESS) goes away, after TSRUNC_SPARE_IDLE_S seconds
 * (default 600) without a task, on SIGTERM/SIGINT, and when its code is stale; it never has
 * children before it is adopted, except the runc a `delete` may run.
 *
 * Unless TSRUNC_SPARE_FORK=0 (in containerd's environment), the shared spare the shell starts runs
 * with `--single-threaded` and never hands itself over: each knock at its door is served by a fork of it
 * (native forkDetached: ~2 ms, where a Node start is ~25), which takes the request as a spare
 * started for it would and becomes the task's daemon — still one process per task, one task at a
 * time. The forking spare stays, idle; every daemon forked from it shares the pages neither writes
 * (~5.7 MiB PSS per idle daemon instead of ~14), and a burst of starts costs no Node start per task.
 * A fork starts cold, though (nothing compiled, no inline caches); a daemon that hands itself back
 * after its task is warm, and serves short tasks one after another faster. So both may wait, one
 * of each kind, each with its own door (door.ts), and the shell knocks at the warm one first; a fork whose task ended is such a warm spare when none waits (a
 * Node process started for one request is not, while the forking spare is up: afterTask). The
 * forking spare is started even when tasks came one at a time and a warm spare took each, and
 * again when a warm spare takes a task after the forking one retired: a burst would otherwise find
 * only the warm one, and start Node for every other task.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, promises as fsp, readSync, statSync, writeSync } from 'node:fs';
import { chdir } from 'node:process';
import net from 'node:net';
import { join } from 'node:path';
import { forkRefusal, loadNative } from '../../native';
import { type ShimFlags, parseFlags, stripUnix } from '../flags';
import { writeFileAtomic } from '../util/atomic-file';
import { del } from './delete';
import { Door, type Reply, type Requester, doorParent, hasLiveDoor, replyPath, takeRequest } from './door';
import { claimNextSpare, forkingOn } from './spare-client';
import { forgetDeleteAnswer } from './delete-answer';
import { listen, socketPath } from './socket';
import { rehearse } from './rehearsal';
import { taskTitle, titleSpare } from './title';
import { daemonEnv, decodeStartOptions, settleDaemon, taskAddress } from './start';
import { listChildren } from '../reaper/children';
import type * as ServeModule from './serve';
import { removeQuiet } from '../util/remove';

const DEFAULT_IDLE_S = 600;
/**
 * Tasks one process serves, one after another, before it exits instead of becoming the spare again:
 * a bound on whatever a task leaves behind in it (its log's fd, on /dev/null: serve.ts releaseLog).
 */
const MAX_TASKS = 20;
/** Tasks this process has served. */
let tasksServed = 0;
/** The code this process runs, as it was when the process started (codeStamp). */
let startStamp: string | undefined;
/** This process is a fork of a spare, made for one request: it never forks itself. */
let isCopy = false;
/** This process has run the forking spare's rehearsal (rehearsal.ts). */
let rehearsed = false;
/** How long a retiring spare's door still answers `busy` (door.ts GRACE_MS is for adoptions). */
const RETIRE_GRACE_MS = 100;
/**
 * When the daemon's code is loaded: as soon as the spare has booted and opened its door. It was
 * 250 ms, to keep it off the `start` that spawned the spare; but back-to-back tasks (~100 ms each)
 * then met a spare not preloaded yet, and the next `start` paid the load itself (~2–7 ms). Measured
 * with the bench's lifecycle section, four runs each: 1.19–1.26× Go's with 0, 1.25–1.29× with 250.
 */
const PRELOAD_DELAY_MS = 0;
/**
 * A spare idle this long unmaps the executable's pages it read (releaseLater). A second: a burst's
 * forks come closer together than that, and a spare runs nothing between its requests.
 */
const RELEASE_AFTER_MS = 1000;
/**
 * How long the forking spare gives a copy to claim its request (door.ts takeRequest) before it
 * forks again for it. A copy claims within milliseconds; one that died first (a V8 heap page the
 * fork left out: native/fork.ts) is not our child and is not seen die, and its requester would
 * wait out its 3 s watchdog. A copy that is only slow races the next one: one of them claims the
 * request (a claim is an unlink: atomic), the other finds it gone and exits.
 */
const CLAIM_WAIT_MS = 500;
/** Forks for one request; after the last one's copy, `busy` (the shell starts a spare for it). */
const FORK_ATTEMPTS = 2;

/**
 * Runs the spare; resolves with the exit code (the adopted daemon's, once adopted). `handedBack`:
 * this process served a task and comes back (afterTask).
 */
export async function runSpare(flags: ShimFlags, handedBack = false): Promise<number> {
  const prefix = flags.control;
  if (!prefix) throw new Error('spare: -control is required');
  const spareFlags = flags; // `start` below has the request's flags under that name
  const request = parseRequest(flags.request);
  // before the door opens: the shell knocks only at a door whose pid shows the spare's comm (one for a request opens none)
  titleSpare(prefix, request ? undefined : doorParent(prefix));
  chdir('/'); // never pin the bundle of the task whose start spawned us (or that we served)
  const code = (startStamp ??= codeStamp());

  let serveModule: typeof ServeModule | undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- the daemon's code, loaded once, off the start path */
  const load = (): typeof ServeModule => (serveModule ??= require('./serve') as typeof ServeModule);
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (!request && !isCopy && canFork(process.env)) {
    // another forking spare is up (two next-spares raced): Door.open would refuse us anyway
    if (hasLiveDoor(prefix, true)) {
      removeQuiet(`${prefix}.lock`); // as below: the next `start` may spawn again
      return 0;
    }
    // the forking spare: the daemon's code, and the built-ins it calls, compiled before its door
    // opens, once for all its forks (rehearsal.ts); it is started in the background, off any start
    load();
    if (!rehearsed) {
      rehearsed = true; // a forking spare that took a task itself and comes back has rehearsed
      await rehearse();
    }
  }

  return new Promise<number>((resolve, reject) => {
    let adopted = false;
    /** A `start` is being served: every other request falls back, before it touches stdin. */
    let claimed = false;
    /** Requests being served; a `delete` runs runc, whose exit the adopted daemon's reaper would take. */
    let inFlight = 0;
    let idleAgain: (() => void) | undefined;
    /** A retirement asked for while a `start` was being served (it has containerd's stdin): after it. */
    let retireAfterStart: number | undefined;
    const runner = doorParent(prefix);
    const idleS = Number.parseInt(process.env['TSRUNC_SPARE_IDLE_S'] ?? '', 10) || DEFAULT_IDLE_S;
    // a spare for one request is adopted at once, or exits: no idle timer, no preload, no watch on containerd
    const idle = request ? undefined : setTimeout(() => retire(0), idleS * 1000);
    const preload = request ? undefined : setTimeout(load, PRELOAD_DELAY_MS);
    const watch = request ? undefined : watchContainerd(stripUnix(process.env['TTRPC_ADDRESS'] ?? ''), () => retire(0));
    const onSignal = (): void => retire(0);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);

    /** Stops being a spare: closes the door, drops the timers and watches. */
    function stopWaiting(graceMs?: number): Promise<void> {
      const closed = door?.close(graceMs) ?? Promise.resolve();
      letGo();
      return closed;
    }

    /** The claim watches of requests forked for (knock). */
    const claimWatches = new Set<NodeJS.Timeout>();
    let releaseTimer: NodeJS.Timeout | undefined;
    /**
     * RELEASE_AFTER_MS after the last request (a fork, a `delete`), and after the door opens:
     * unmaps what starting up and serving read of the executable and its libraries, which no fork
     * maps (a fork copies no page table entry of them) and which an idle spare does not run
     * (native/pages.ts). Its forks do the same when idle (util/idle-reclaim.ts): the spare would
     * otherwise be the one process left mapping those pages, and PSS would count them all to it.
     */
    function releaseLater(): void {
      if (releaseTimer !== undefined) return void releaseTimer.refresh();
      releaseTimer = setTimeout(() => {
        releaseTimer = undefined;
        if (claimed || inFlight > 0) return releaseLater(); // a request of its own is being served: after it
        loadNative().releaseFilePages();
      }, RELEASE_AFTER_MS);
      releaseTimer.unref();
    }

    /** Drops what waiting took (the door is closed or forgotten by the caller). */
    function letGo(): void {
      adopted = true;
      // (in a copy: the watches are of the spare's other requests, none of them its business)
      for (const timer of claimWatches) clearTimeout(timer);
      claimWatches.clear();
      clearTimeout(releaseTimer);
      releaseTimer = undefined;
      clearTimeout(idle);
      clearTimeout(preload);
      watch?.destroy();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }

    /**
     * A knock at the door: forks a copy that serves it, unless this spare must serve it itself —
     * it serves or retires already (the request is answered `busy`), its code is stale (it
     * retires), or no copy can be made.
     */
    function knock(pid: number, argc: number, attempt = 1): boolean {
      if (adopted || claimed || inFlight > 0 || codeStamp() !== code) return false;
      // the copy's claim is watched: its fork's middle process failing (told by forkDetached), or
      // no claim within CLAIM_WAIT_MS, and the request is forked for again, once
      let watch: NodeJS.Timeout | undefined;
      const lost = (): void => {
        if (watch === undefined) return; // the other of the two came first
        clearTimeout(watch);
        claimWatches.delete(watch);
        watch = undefined;
        if (!unclaimed(pid)) return; // a copy serves it (or its requester gave up)
        // (as the door's knocks: no fork while a request is being taken here, or the copy takes it on too)
        if (attempt < FORK_ATTEMPTS && door?.mayFork() === true && knock(pid, argc, attempt + 1)) return;
        sendAway(pid);
      };
      let copy: boolean;
      try {
        copy = loadNative().forkDetached(lost);
      } catch {
        return false;
      }
      if (!copy) {
        idle?.refresh(); // a fork is a task: the idle time starts again
        releaseLater();
        watch = setTimeout(lost, CLAIM_WAIT_MS);
        watch.unref();
        claimWatches.add(watch);
        return true;
      }
      // the copy: nothing of the spare's waiting is its own; the door stays the spare's
      isCopy = true;
      tasksServed = 0; // a process of its own: MAX_TASKS counts from here
      door?.forget();
      letGo();
      resolve(runSpare({ ...spareFlags, request: `${pid}:${argc}` }));
      return true;
    }

    /** No process claimed request `pid` yet: its reply FIFO still has its name (door.ts). */
    function unclaimed(pid: number): boolean {
      return existsSync(replyPath(pid));
    }

    /** Claims request `pid` if nobody has, and answers it `busy`; nothing when a copy claimed it. */
    function sendAway(pid: number): void {
      void takeRequest(pid, 0, () => undefined, { busy: () => true, replyOpenMs: 0 }).catch(() => undefined);
    }

    /** Exits once the door has sent away late requests and the requests being served are answered. */
    function retire(exitCode: number): void {
      if (adopted) return;
      if (claimed) {
        retireAfterStart = exitCode;
        return;
      }
      const served = inFlight === 0 ? Promise.resolve() : new Promise<void>((done) => (idleAgain = done));
      // a short grace: requests already in the pipe are answered; none is expected (containerd is
      // gone, idle for minutes, or being stopped), so the spare never outlives it by seconds
      void Promise.all([stopWaiting(RETIRE_GRACE_MS), served]).then(() => resolve(exitCode));
    }

    const failed = (err: unknown): void => reject(err instanceof Error ? err : new Error(String(err)));
    let door: Door | undefined;
    if (request) {
      // the shell made its reply FIFO and opened it before it started us: one try
      // a copy serves a knock at the door: the door's wait for the reply, and no reply held on fd 9
      const options = isCopy ? { busy: () => adopted } : { busy: () => adopted, replyOpenMs: 0, onClaimed: (reply: Reply) => releaseHeldReply(reply.fd) };
      void takeRequest(request.pid, request.argc, (r, reply) => void handle(r, reply).then(() => retire(0), failed), options).then((taken) => {
        if (!taken) retire(0);
      }, failed);
    } else {
      // a fork that served its task hands itself back as a spare that does not fork (warm: the
      // kind that takes a task itself); only the process the shell started forks
      const forking = !isCopy && canFork(process.env) ? knock : undefined;
      door = Door.open(prefix, (r, reply) => void handle(r, reply).catch(failed), loadNative(), forking);
      // the spare a claim started (spare-client.ts) lets the next `start` claim again; one handed
      // back does not: the next spare its task's `start` claimed may be on its way still (the
      // shell releases that claim if it starts none), and a second claim would start another
      if (!handedBack) removeQuiet(`${prefix}.lock`);
      if (!door) return retire(0); // another spare serves this containerd already
      releaseLater();
    }

    async function handle(r: Requester, reply: Reply): Promise<void> {
      if (adopted || claimed) return reply.send('busy');
      // only for the process we are the spare of, and the same events endpoint
      if (r.ppid !== runner || r.env['TTRPC_ADDRESS'] !== process.env['TTRPC_ADDRESS']) return reply.send('fallback');
      // (a copy's spare checked it at the knock, a moment ago)
      if (!isCopy && codeStamp() !== code) {
        reply.send('busy');
        return retire(0); // rebuilt or upgraded: a new spare with the new code replaces us
      }
      let flags: ShimFlags;
      try {
        flags = parseFlags(r.args, r.env);
      } catch {
        return reply.send('fallback'); // the Node entry point explains usage errors
      }
      if (flags.action === 'start') {
        if (inFlight > 0) return reply.send('busy'); // a delete's runc is running
        claimed = true; // synchronously, before any await
      } else if (flags.action !== 'delete') {
        return reply.send('fallback');
      }
      let out: Streams;
      try {
        out = requesterStreams(r.pid);
      } catch {
        // stdout or stderr a socket (Node's child_process gives sockets; /proc cannot reopen them)
        claimed = false;
        return reply.send('fallback');
      }
      // stdout and stderr are closed before the answer: the requester exits on it
      const answer = (line: string): void => {
        out.close();
        reply.send(line);
      };
      inFlight++;
      try {
        if (flags.action === 'delete') {
          out.write(await del({ ...flags, bundle: flags.bundle || r.cwd }, out.err));
          answer('0');
        } else {
          await start(flags, r, out, answer);
        }
      } catch (err) {
        out.err(`io.containerd.tsrunc.v2: ${(err as Error).message}`);
        answer('1');
      } finally {
        if (!adopted) {
          claimed = false;
          if (retireAfterStart !== undefined) retire(retireAfterStart);
          else releaseLater();
        }
        if (--inFlight === 0) idleAgain?.();
      }
    }

    async function start(flags: ShimFlags, r: Requester, out: Streams, answer: (line: string) => void): Promise<void> {
      const address = taskAddress(flags, r.cwd);
      forgetDeleteAnswer(r.cwd);
      const stdin = await readStdin(r.pid);
      if (stdin === undefined) return answer('fallback');
      const options = decodeStartOptions(stdin);
      const bound = await listen(socketPath(address), loadNative);
      if ('inUse' in bound) {
        // a live shim serves the group: as `start` does, print its address; we stay a spare
        writeFileAtomic(join(r.cwd, 'address'), address);
        out.write(address);
        return answer('0');
      }
      void stopWaiting();
      try {
        const taskFlags = daemonFlags(flags, address, r.env);
        writeFileAtomic(join(r.cwd, 'address'), address);
        settleDaemon(process.pid, options, r.cwd, r.ppid);
        becomeTask(r, taskFlags);
        const serve = load().serve;
        tasksServed++;
        out.write(address);
        // `next`: the shell starts the next spare (unless one is up or on its way already), after
        // a delay in which this process may come back as the spare (afterTask). A copy's first
        // task came through the forking spare a moment ago: it is still there. A copy handed back
        // may have outlived it (the forking spare retires when idle, and a warm spare takes the
        // tasks that come one at a time): without a `next` here, a burst would meet no forking
        // spare, and start Node for every task but one.
        const forkedJustNow = isCopy && tasksServed === 1;
        answer(!forkedJustNow && claimNextSpare(prefix) ? '0 next' : '0');
        const moved = options.shimCgroup !== '';
        resolve(serve(taskFlags, bound.server).then((end) => afterTask(end, spareFlags, moved)));
      } catch (err) {
        // nobody will connect to a half-made daemon: close the socket and exit
        bound.server.close(); // unlinks the socket
        out.err(`io.containerd.tsrunc.v2: ${(err as Error).message}`);
        answer('1');
        resolve(1);
      }
    }
  });
}

/**
 * After the task (or group) is served, the process becomes the spare again — the shell's next
 * spare waits a moment first (bin/containerd-shim-tsrunc-v2), sees this process back as the spare,
 * and does not start — unless it should not: a signal stopped it, it failed, it was moved into a
 * ShimCgroup (a pod's), it still has children (a container it did not see die), its code changed
 * on disk since it started, it has served MAX_TASKS, or the process it is a spare of is gone.
 * Another spare holding the door makes it exit too.
 *
 * Nor does a Node process started for one request (not a fork) while a forking spare is up: its
 * memory is all its own (18–24 MiB PSS idle, against ~5.5 for a fork, which shares the forking
 * spare's pages), and as the warm spare it would take the next task, however long that one runs.
 * The next task goes to a fork, which comes back as the warm spare after it instead.
 */
function afterTask(end: ServeModule.ServeEnd, spareFlags: ShimFlags, moved: boolean): number | Promise<number> {
  if (end.code !== 0 || end.signal !== undefined || moved || tasksServed >= MAX_TASKS || codeStamp() !== startStamp || !runnerAlive(spareFlags.control)) return end.code;
  if (!isCopy && hasLiveDoor(spareFlags.control, true)) return end.code; // heavy: a fork takes the next task
  // first: an orphan that arrives from now on goes to init, not to a spare that reaps nothing
  loadNative().setChildSubreaper(false);
  if (listChildren().length > 0) return end.code;
  return runSpare({ ...spareFlags, request: '' }, true);
}

/** Forking on, and a process native forkDetached can copy. */
function canFork(env: NodeJS.ProcessEnv): boolean {
  return forkingOn(env) && forkRefusal() === undefined;
}

/**
 * True while the process we are a spare of (containerd, a supervisor) runs: nobody else can use our
 * door. Its /proc entry, as door.ts judges the pids in names.
 */
function runnerAlive(prefix: string): boolean {
  return existsSync(`/proc/${doorParent(prefix)}`);
}

/**
 * A spare started for one request holds the requester's reply FIFO on fd 9 (the shell passes it, so
 * that dying before the claim is EOF there); once the reply is claimed, our own open end does that,
 * and fd 9 must not stay open in the daemon (runc and containers would inherit it). Closed only if
 * it is that FIFO: otherwise fd 9 is not ours to close.
 */
const HELD_REPLY_FD = 9;

function releaseHeldReply(replyFd: number): void {
  try {
    const held = fstatSync(HELD_REPLY_FD);
    const reply = fstatSync(replyFd);
    if (held.isFIFO() && held.ino === reply.ino && held.dev === reply.dev) closeSync(HELD_REPLY_FD);
  } catch {
    // not open: started by hand
  }
}

/** `-request <pid>:<argc>`: the request a spare was started for, if any. */
function parseRequest(value: string): { pid: number; argc: number } | undefined {
  if (value === '') return undefined;
  const match = /^(\d+):(\d+)$/.exec(value);
  if (!match) throw new Error(`spare: -request must be <pid>:<argc>, not "${value}"`);
  return { pid: Number(match[1]), argc: Number(match[2]) };
}

interface Streams {
  write: (data: string | Uint8Array) => void;
  err: (message: string) => void;
  close: () => void;
}

/**
 * The requester's stdout and stderr — the pipe containerd reads — opened through /proc, now: a
 * stream that cannot be reopened (a socket) is known before any work is done. They are open while
 * the requester waits for its reply, so the bytes are in the pipe before it exits.
 */
function requesterStreams(pid: number): Streams {
  const fds: Partial<Record<1 | 2, number>> = {};
  // the shell keeps containerd's stdout and stderr on fds 4 and 5 (its 1 is the door for a moment)
  const fd = (n: 1 | 2): number => (fds[n] ??= openSync(`/proc/${pid}/fd/${n + 3}`, constants.O_WRONLY | constants.O_APPEND));
  fd(1);
  try {
    fd(2);
  } catch (err) {
    closeSync(fds[1] ?? -1);
    throw err;
  }
  const writeAll = (n: 1 | 2, data: string | Uint8Array): void => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd(n), bytes, off, bytes.length - off);
  };
  return {
    write: (data) => writeAll(1, data),
    err: (message) => {
      try {
        writeAll(2, `${message}\n`);
      } catch {
        // no stderr to tell
      }
    },
    close: () => {
      for (const n of [1, 2] as const) if (fds[n] !== undefined) closeSync(fds[n]);
      delete fds[1];
      delete fds[2];
    },
  };
}

/**
 * The requester's stdin (the runtime options containerd writes to `start`), to EOF; `undefined`
 * when /proc cannot reopen it (a socket), so the Node entry point reads it; throws when part of it
 * was read and the rest could not be. The shell has it on fd 3: while it reads the reply, its fd 0
 * is the reply FIFO.
 */
export async function readStdin(pid: number): Promise<Buffer | undefined> {
  const path = `/proc/${pid}/fd/3`;
  const head: Buffer[] = [];
  try {
    if (readAvailable(path, head)) return Buffer.concat(head);
    // containerd is still writing: the rest through the thread pool, after what was read
    return Buffer.concat([...head, await fsp.readFile(path)]);
  } catch (err) {
    if (head.length === 0) return undefined; // nothing taken from the pipe: the Node entry point can read it all
    // part of the options is consumed: a fallback would decode the rest as if it were all of them
    throw new Error(`reading containerd's options from stdin: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads what the pipe holds, without blocking (our own O_NONBLOCK open of it); true at EOF. By the
 * time a spare takes a `start`, containerd has written its options and closed the pipe: read here,
 * they cost no thread-pool round trips — fsp.readFile's open, stat, reads and close took ~2 ms of
 * the spare's ~9 ms answer (the pool's threads start on that first use, too).
 */
function readAvailable(path: string, into: Buffer[]): boolean {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const chunk = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
        throw err;
      }
      if (n === 0) return true;
      into.push(Buffer.from(chunk.subarray(0, n))); // a copy: the chunk is read into again
    }
  } finally {
    closeSync(fd);
  }
}

/** The daemon's flags for the task, as `start` would have written them on its command line. */
function daemonFlags(flags: ShimFlags, address: string, env: Record<string, string>): ShimFlags {
  const argv = ['-namespace', flags.namespace, '-id', flags.id, '-address', flags.address, '-socket', address];
  if (flags.publishBinary) argv.push('-publish-binary', flags.publishBinary);
  if (flags.debug) argv.push('-debug');
  return parseFlags(argv, env);
}

/** Takes on the identity a spawned daemon would have: environment, working directory, title. */
function becomeTask(r: Requester, flags: ShimFlags): void {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, daemonEnv(r.env));
  chdir(r.cwd); // serve opens the bundle's `log` FIFO, then moves to /
  // here, before the answer (serve() runs after it, and titles only spawned daemons): whoever
  // looks for the task's shim (`ps`, tools that match `-id X`) as soon as `start` returns finds it
  process.title = taskTitle(flags);
}

/** What identifies our code: the entry script, the running code file and the Node binary. */
function codeStamp(): string {
  return [process.argv[1] ?? '', __filename, process.execPath]
    .map((path) => {
      try {
        const st = statSync(path);
        return `${st.ino}:${st.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join(' ');
}

/** Holds a connection to containerd's ttrpc socket; `gone` runs when it closes (containerd exited). */
function watchContainerd(path: string, gone: () => void): net.Socket {
  const socket = net.connect(path);
  socket.on('error', () => undefined);
  socket.once('close', gone);
  socket.on('data', () => undefined);
  socket.unref(); // the door keeps the spare alive, not this
  return socket;
}
