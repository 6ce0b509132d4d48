/**
 * The spare's door: how the shell entry point (bin/containerd-shim-tsrunc-v2) hands a `start` or a
 * `delete` to the spare daemon (spare.ts) without starting Node — two Node starts per container
 * (~25 ms each at the floor) are most of what separated our lifecycle from Go's.
 *
 *   door    /run/containerd/s/tsrunc-door-<parent>-<spare>: a FIFO (0600) the spare reads; <parent>
 *           is the pid of the process that runs the shim (containerd, or the supervisor), <spare>
 *           the spare's pid (the shell checks /proc/<spare> before it knocks). A spare that forks a
 *           daemon per task (spare.ts; the shared one, unless TSRUNC_SPARE_FORK=0) has `f<spare>` instead: one spare of
 *           each kind may wait, and the shell knocks at the other kind's door first (a spare that
 *           hands itself over was a task's daemon already: warm).
 *   request "<pid> <argc>\n" — the requester's pid and argument count, in one write (< PIPE_BUF, so
 *           concurrent requests never interleave). Nothing else crosses the door: the spare reads
 *           the requester's argv, environment and working directory from /proc/<pid>, and
 *           containerd's stdin, stdout and stderr from /proc/<pid>/fd/3, 4 and 5 (copies the
 *           shell makes: its own 0 and 1 are the reply and the door while it knocks) — exactly
 *           the streams containerd reads, which stay open as long as the requester waits.
 *   reply   /run/containerd/s/tsrunc-reply-<pid>: a FIFO the requester made and reads one line
 *           from. The spare opens it and unlinks it — the claim: a requester that gave up removes
 *           it itself, and a spare that cannot unlink it drops the request — then writes
 *           "<exit code>[ next]" (`next`: spawn the next spare), `busy` (this spare cannot take it
 *           any more — adopted a moment ago, serving another request, retiring — but a fresh one
 *           could: for a `start`, the shell starts a spare for that one request, `-request
 *           <pid>:<argc>`, which answers on the same protocol) or `fallback` (run the Node entry
 *           point instead). At a door the requester holds a watchdog writer for 3 s; a spare
 *           started for it holds the reply open itself (fd 9) until it claims it. Either way a
 *           spare that dies before it claims ends the wait, never hangs it.
 *
 * Only processes of our own uid can use the door (mode 0600; the requester's /proc entry and the
 * reply FIFO are checked), the same boundary as the shim's socket; and the spare serves only
 * children of its own containerd (the requester's parent).
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SOCKET_DIR } from './socket';
import { removeQuiet } from '../util/remove';
import { takeFileLock } from '../util/file-lock';
import { O_CLOEXEC, isFileAt } from '../util/open-file';
import type { Native } from '../../native';

const { O_RDWR, O_WRONLY, O_NONBLOCK } = constants;
const REPLY_PREFIX = 'tsrunc-reply-';
/** How long the spare waits for the requester to open its reply FIFO. */
const REPLY_OPEN_MS = 2000;
const MAX_PENDING = 4096;
/** A spawn lock this old belongs to a spare that died before its door opened. */
const LOCK_STALE_MS = 5000;
/** How long a spare waits for another to finish opening its door (a few syscalls) before it gives up. */
const OPENING_WAIT_MS = 200;
/** How long a closed door still answers `busy` (see close): after an adoption, under a burst. */
export const GRACE_MS = 2000;

/** The door prefix for the process that runs shims (`-control` of a spare). */
export function doorPrefix(parentPid: number): string {
  return join(SOCKET_DIR, `tsrunc-door-${parentPid}`);
}

/** The process a door prefix belongs to (containerd): a request from any other parent is refused. */
export function doorParent(prefix: string): number {
  return Number(prefix.slice(prefix.lastIndexOf('-') + 1));
}

/** The reply FIFO of requester `pid`. */
export function replyPath(pid: number): string {
  return join(SOCKET_DIR, `${REPLY_PREFIX}${pid}`);
}

/** Who knocked: read from /proc while it waits for the reply. */
export interface Requester {
  pid: number;
  /** Its arguments (without the interpreter and script). */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Its parent: the process that runs shims (containerd). */
  ppid: number;
}

/** The requester's reply FIFO, opened: the answer goes here, once. */
export interface Reply {
  /** The open reply FIFO (its write end). */
  readonly fd: number;
  send(line: string): void;
}

export type RequestHandler = (requester: Requester, reply: Reply) => void;

/**
 * Called with each knock before anything is read or claimed: true when it was taken care of (the
 * spare forked a copy of itself that serves it); false to serve it here (takeRequest).
 */
export type KnockHandler = (pid: number, argc: number) => boolean;

/** One spare's door. */
export class Door {
  private readonly reader: net.Socket;
  private pending = '';
  /** The door is gone: every request is answered `busy`. */
  private retiring = false;
  private closing: Promise<void> | undefined;
  /** A copy of the spare (forked) let go of the door: it reads nothing more. */
  private forgotten = false;
  /** Requests being taken here (takeRequest): a fork now would take them on too. */
  private taking = 0;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly onRequest: RequestHandler,
    private readonly onKnock?: KnockHandler,
  ) {
    // A spare has no log before it serves a task: what goes wrong here costs the requester a
    // fallback (or its watchdog), never the spare.
    this.reader = new net.Socket({ fd, readable: true, writable: false });
    this.reader.on('error', () => undefined);
    this.reader.on('data', (chunk: Buffer) => this.receive(chunk.toString('latin1')));
  }

  /**
   * Opens the door for `prefix` (doorPrefix) as spare `pid`. `undefined` when another live spare
   * has a door there already (one spare per containerd); doors of dead spares are removed.
   */
  static open(prefix: string, onRequest: RequestHandler, native: Pick<Native, 'mkfifo' | 'tryLockExclusive'>, onKnock?: KnockHandler, pid = process.pid): Door | undefined {
    // One spare opens a door at a time (a burst may start several): the lock makes "no live
    // door yet, so make mine" atomic. The kernel's: a spare killed while it held it (after its door
    // appeared, before it let go) holds up nobody.
    const release = takeFileLock(native, `${prefix}.opening`, OPENING_WAIT_MS);
    if (!release) return undefined;
    try {
      const forks = onKnock !== undefined;
      if (liveDoors(prefix).some((door) => isForkingDoor(door) === forks)) return undefined;
      const path = `${prefix}-${forks ? 'f' : ''}${pid}`;
      const tmp = `${path}.new`;
      removeQuiet(tmp);
      native.mkfifo(tmp, 0o600);
      // O_RDWR: the door never reads EOF when a requester closes it, and opening never blocks
      const fd = openSync(tmp, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      try {
        renameSync(tmp, path);
      } catch (err) {
        closeSync(fd);
        removeQuiet(tmp);
        throw err;
      }
      return new Door(path, fd, onRequest, onKnock);
    } finally {
      release();
    }
  }

  /**
   * Stops taking requests and removes the door. Requests already in the pipe, or written by a
   * requester that opened the door just before it went, are answered `busy` for `graceMs`, so
   * none waits for its watchdog; then the door is closed. Resolves when it is.
   */
  close(graceMs = GRACE_MS): Promise<void> {
    if (this.closing) return this.closing;
    this.retiring = true;
    // only our own door: a racing spare may have replaced the name
    if (isFileAt(this.fd, this.path)) removeQuiet(this.path);
    this.closing = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.reader.destroy();
        resolve();
      }, graceMs);
      timer.unref();
    });
    return this.closing;
  }

  /**
   * In a forked copy of the spare: closes the copy's descriptor of the door, and reads nothing
   * more — the door stays the original's (its name is not removed), and so do the requests after
   * the one the copy was made for.
   */
  forget(): void {
    this.forgotten = true;
    this.pending = '';
    this.reader.destroy();
  }

  private receive(text: string): void {
    this.pending += text;
    if (this.pending.length > MAX_PENDING) {
      this.pending = ''; // not a shell's request
      return;
    }
    for (let nl = this.pending.indexOf('\n'); nl >= 0 && !this.forgotten; nl = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      this.take(line);
    }
  }

  /** A fork now would be safe: the door is open and no request is being taken here. */
  mayFork(): boolean {
    return !this.retiring && this.taking === 0;
  }

  private take(line: string): void {
    const match = /^(\d+) (\d+)$/.exec(line);
    if (!match) return; // not a shell's request: nobody to answer
    // no fork while a request is being taken here: the copy would go on taking it too
    if (this.mayFork() && this.onKnock?.(Number(match[1]), Number(match[2]))) return;
    this.taking++;
    void takeRequest(Number(match[1]), Number(match[2]), this.onRequest, { busy: () => this.retiring }).finally(() => this.taking--);
  }
}

export interface TakeOptions {
  /** True when this spare cannot take the request any more: it is answered `busy`. */
  busy: () => boolean;
  /** How long to wait for the requester to open its reply (default REPLY_OPEN_MS). */
  replyOpenMs?: number;
  /** Called once the reply is ours (claimed), before anything is answered. */
  onClaimed?: (reply: Reply) => void;
}

/**
 * Serves request `<pid> <argc>`: opens and claims the requester's reply FIFO, reads who it is from
 * /proc and hands both to `onRequest` — or answers `busy` when `busy()` says this spare cannot take
 * it any more (another spare could), `fallback` when the requester cannot be read. Resolves true
 * when `onRequest` got the request. Used by the door, and by a spare started for one request.
 */
export async function takeRequest(pid: number, argc: number, onRequest: RequestHandler, options: TakeOptions): Promise<boolean> {
  let reply: Reply | undefined;
  try {
    reply = await openReply(pid, options.replyOpenMs ?? REPLY_OPEN_MS);
  } catch {
    return false; // a reply that is not our FIFO: nothing to answer on
  }
  if (!reply) return false; // the requester gave up (or never made its reply): it falls back
  options.onClaimed?.(reply);
  // from here to onRequest nothing awaits: busy() cannot change in between
  if (options.busy()) {
    reply.send('busy');
    return false;
  }
  let requester: Requester;
  try {
    requester = readRequester(pid, argc);
  } catch {
    reply.send('fallback'); // gone, not our uid, or unreadable: the Node entry point decides
    return false;
  }
  onRequest(requester, reply);
  return true;
}

/**
 * Doors under `prefix` whose spare is alive. Dead doors — any containerd's: a spare killed -9
 * cannot remove its own — are removed on the way.
 */
function liveDoors(prefix: string): string[] {
  const dir = join(prefix, '..');
  const live: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return live;
  }
  for (const name of names) {
    // replies of requesters killed before a spare took them, half-made doors of dead spares,
    // locks of a containerd that is gone
    const orphan = /^tsrunc-reply-(\d+)$/.exec(name) ?? /^tsrunc-door-\d+-f?(\d+)\.new$/.exec(name) ?? /^tsrunc-door-(\d+)\.(?:lock|opening)$/.exec(name);
    if (orphan && !existsSync(`/proc/${orphan[1]}`)) removeQuiet(join(dir, name));
    if (!/^tsrunc-door-\d+-f?\d+$/.test(name)) continue;
    const path = join(dir, name);
    if (!isFifo(path) || !hasReader(path)) removeQuiet(path);
    else if (path.startsWith(`${prefix}-`)) live.push(path);
  }
  return live;
}

/** A door of a spare that forks a daemon per task (`<prefix>-f<pid>`). */
function isForkingDoor(path: string): boolean {
  return path.charAt(path.lastIndexOf('-') + 1) === 'f';
}

/** True when a live spare has a door under `prefix` (only of that kind, with `forking`). */
export function hasLiveDoor(prefix: string, forking?: boolean): boolean {
  return liveDoors(prefix).some((door) => forking === undefined || isForkingDoor(door) === forking);
}

/** Creates the lock file `path`; false while another holds it (a lock older than LOCK_STALE_MS is taken over). */
export function takeLock(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return true;
  } catch {
    try {
      if (Date.now() - statSync(path).mtimeMs < LOCK_STALE_MS) return false;
      utimesSync(path, new Date(), new Date()); // stale: ours now
      return true;
    } catch {
      return false;
    }
  }
}

function isFifo(path: string): boolean {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
}

/** A FIFO with a reader accepts a non-blocking open for writing; without one it answers ENXIO. */
function hasReader(path: string): boolean {
  try {
    closeSync(openSync(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    return true;
  } catch {
    return false;
  }
}

/** Opens the requester's reply FIFO (it opens its end right after knocking); unlinks the name. */
async function openReply(pid: number, deadlineMs = REPLY_OPEN_MS): Promise<Reply | undefined> {
  const path = replyPath(pid);
  const until = Date.now() + deadlineMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    let fd: number | undefined;
    try {
      fd = openSync(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENXIO' && code !== 'ENOENT') throw err;
    }
    if (fd !== undefined) {
      const st = fstatSync(fd);
      if (!st.isFIFO() || st.uid !== process.getuid?.()) {
        closeSync(fd);
        throw new Error(`${path} is not our FIFO`);
      }
      // Unlinking is the claim: a requester that gave up first removed the name itself (and
      // runs the Node entry point), so the request is not ours any more.
      try {
        unlinkSync(path);
      } catch {
        closeSync(fd);
        return undefined;
      }
      return replyOn(fd);
    }
    if (Date.now() >= until) {
      removeQuiet(path);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function replyOn(fd: number): Reply {
  let sent = false;
  return {
    fd,
    send(line: string): void {
      if (sent) return;
      sent = true;
      const socket = new net.Socket({ fd, readable: false, writable: true });
      socket.on('error', () => undefined); // the requester is gone: nobody to tell
      socket.end(`${line}\n`);
    },
  };
}

/** argv, environment, cwd and parent of `pid`, which must run as our uid. */
export function readRequester(pid: number, argc: number): Requester {
  const proc = `/proc/${pid}`;
  if (statSync(proc).uid !== process.getuid?.()) throw new Error('not our uid');
  const argv = readFileSync(`${proc}/cmdline`, 'latin1').split('\0');
  argv.pop(); // the terminating NUL
  if (argc > argv.length) throw new Error('argument count larger than its argv');
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`${proc}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const stat = readFileSync(`${proc}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return {
    pid,
    args: argv.slice(argv.length - argc).map((a) => Buffer.from(a, 'latin1').toString('utf8')),
    env,
    cwd: readlinkSync(`${proc}/cwd`),
    ppid,
  };
}
