/**
 * The forking spare's rehearsal: before it opens its door, it calls once the Node built-ins a
 * task's daemon calls on its way to a started task, so that they are compiled in the spare and
 * every fork of it finds them compiled.
 *
 * Why: the forking spare runs with V8 flags (`--single-threaded` and its memory flags, start.ts),
 * which make V8 reject Node's code cache of its built-in modules. A built-in function is then
 * compiled the first time it is called, and a fork compiles what the spare never called, in every
 * task's daemon: with V8's function events logged, ~130 functions of net, streams, buffer, fs and
 * timers per fork, and the modules `net` loads on its first listen (cluster and its four internal
 * modules). Our own code is compiled in the spare already (the trained code cache, code-cache.ts).
 * After a first version of it ~30 were left per fork. A fork's CPU from its fork to its task
 * started (process.cpuUsage in each of 12 forks, `ctr run -d` one after another, three runs each
 * way, alternating) went 21.4–28.9 ms → 17.7–20.9 (medians): less work per task in a burst.
 *
 * What it calls is the daemon's path in small: files written as `start` writes them (fsync-ed,
 * renamed) and looked at as its checks do, a ttrpc server and client talking over a unix socket
 * (as the daemon serves containerd and publishes events to it), a timer refreshed and unref'd, a
 * rejected promise. Nothing of it is left behind: the directory and the socket are removed, the
 * server and client closed; a rehearsal that fails only leaves more to compile in the forks. A
 * spare killed while it rehearses (containerd stopped at that moment) cannot remove its directory:
 * the directory is named by its pid, and the next rehearsal removes those of pids that are gone.
 */
import { accessSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client, Server } from 'ttrpc-ts';
import { writeFileAtomic } from '../util/atomic-file';

/** A local connect or round trip takes well under a millisecond: a stuck one never keeps the door shut. */
const LIMIT_MS = 1000;
/** A rehearsal's directory in the temp dir: `tsrunc-rehearsal-<pid>-<random>`. */
const DIR_PREFIX = 'tsrunc-rehearsal-';
const DIR_NAME = /^tsrunc-rehearsal-(\d+)-/;

/** Runs the rehearsal; never throws. */
export async function rehearse(): Promise<void> {
  let dir: string | undefined;
  const server = new Server();
  let client: Client | undefined;
  try {
    removeLeftovers(tmpdir());
    dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    files(dir);
    timers();
    await Promise.reject(new Error('rehearsal')).catch(() => undefined);
    const socket = join(dir, 's');
    await server.listen({ path: socket });
    client = await Client.connect(socket, { timeout: LIMIT_MS });
    // no such service: the server answers Unimplemented, a frame each way
    await client.call('tsrunc.rehearsal.v1.Nothing', 'Nothing', Buffer.alloc(0), { timeout: LIMIT_MS }).catch(() => undefined);
  } catch {
    // the forks compile what is left
  } finally {
    await client?.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    try {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    } catch {
      // a directory in the temp dir is the least of it
    }
    // a turn of the event loop: the closed handles are gone before the door opens (a fork made
    // while libuv still held them would run their close callbacks again)
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Removes the directories of rehearsals whose process is gone (killed before it cleaned up). */
function removeLeftovers(temp: string): void {
  for (const name of readdirSync(temp)) {
    const pid = Number(DIR_NAME.exec(name)?.[1] ?? 0);
    // gone as door.ts and afterTask judge a pid: no /proc entry
    if (pid <= 0 || existsSync(`/proc/${pid}`)) continue;
    rmSync(join(temp, name), { recursive: true, force: true });
  }
}

/** What `start` and the daemon do with their files: durable writes, reads, checks. */
function files(dir: string): void {
  mkdirSync(dir, { recursive: true });
  accessSync(dir);
  statfsSync(dir);
  const file = join(dir, 'address');
  writeFileAtomic(file, 'unix:///rehearsal');
  readFileSync(file, 'utf8');
  const fd = openSync(file, 'r');
  try {
    const stat = fstatSync(fd);
    stat.isFile();
    stat.isFIFO();
    stat.isDirectory();
  } finally {
    closeSync(fd);
  }
  statSync(dir).isDirectory();
  readlinkSync('/proc/self/exe');
  relative(dir, file);
  Buffer.concat([Buffer.from('a'), Buffer.alloc(4)]).readUInt32BE(1);
}

/** A timer as the daemon keeps them: refreshed, unref'd, cleared. */
function timers(): void {
  const timer = setTimeout(() => undefined, 1000);
  timer.refresh();
  timer.unref();
  clearTimeout(timer);
}
