/**
 * The spare daemon: a shim process started ahead of need by `start` (spare-client.ts), idle, with
 * the daemon's code loaded. The next `start` for the same containerd hands it a task; it binds that
 * task's socket (or answers that a live shim already has it), replies with its pid, and from then on
 * is that task's daemon exactly as a spawned one would be (serve.ts) — one process per task or group.
 *
 * It takes one task at most, then closes its control socket (the next `start` starts a new spare).
 * It exits when containerd (its TTRPC_ADDRESS) goes away, after TSRUNC_SPARE_IDLE_S seconds
 * (default 600) without a task, and on SIGTERM/SIGINT; it never has children before it is adopted.
 */
import { unlinkSync } from 'node:fs';
import { chdir } from 'node:process';
import net from 'node:net';
import { type ShimFlags, parseFlags, stripUnix } from '../flags';
import { identifierProblem } from '../util/validate';
import { type AdoptReply, type AdoptRequest } from './spare-client';
import { listen, socketPath } from './socket';
import type * as ServeModule from './serve';

const DEFAULT_IDLE_S = 600;
/** The daemon's code is loaded this long after the spare booted, off the critical path of the `start` that spawned it. */
const PRELOAD_DELAY_MS = 250;
const MAX_REQUEST = 256 * 1024;

/** Runs the spare; resolves with the exit code (the adopted daemon's, once adopted). */
export async function runSpare(flags: ShimFlags): Promise<number> {
  const control = flags.control;
  if (!control) throw new Error('spare: -control is required');
  process.title = `containerd-shim-tsrunc-v2 -control ${control} spare`;
  const listener = await listen(control);
  removeQuiet(`${control}.lock`); // spare-client.ts: the next `start` may spawn again
  if ('inUse' in listener) return 0; // another spare serves this containerd already
  const server = listener.server;

  let serveModule: typeof ServeModule | undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- the daemon's code, loaded once, off the start path */
  const load = (): typeof ServeModule => (serveModule ??= require('./serve') as typeof ServeModule);
  /* eslint-enable @typescript-eslint/no-require-imports */
  const preload = setTimeout(load, PRELOAD_DELAY_MS);

  return new Promise<number>((resolve, reject) => {
    let adopted = false;
    const idleS = Number.parseInt(process.env['TSRUNC_SPARE_IDLE_S'] ?? '', 10) || DEFAULT_IDLE_S;
    const idle = setTimeout(() => retire(0), idleS * 1000);
    const watch = watchContainerd(stripUnix(process.env['TTRPC_ADDRESS'] ?? ''), () => retire(0));
    const onSignal = (): void => retire(0);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);

    function retire(code: number): void {
      if (adopted) return;
      adopted = true; // no task will come
      clearTimeout(idle);
      clearTimeout(preload);
      watch.destroy();
      server.close(() => resolve(code)); // also unlinks the control socket
    }

    server.on('connection', (conn) => {
      let data = '';
      conn.on('error', () => undefined);
      conn.on('data', (chunk: Buffer) => {
        if (adopted) return void conn.destroy();
        data += chunk.toString('utf8');
        if (data.length > MAX_REQUEST) return void conn.destroy();
        const nl = data.indexOf('\n');
        if (nl < 0) return;
        conn.pause();
        void handle(data.slice(0, nl)).then(
          ({ reply, serving }) => {
            conn.end(`${JSON.stringify(reply)}\n`);
            if (serving) resolve(serving);
          },
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
      });
    });

    /** Binds the task's socket and becomes its daemon; or explains why not (and stays a spare). */
    async function handle(line: string): Promise<{ reply: AdoptReply; serving?: Promise<number> }> {
      let request: AdoptRequest;
      let taskFlags: ShimFlags;
      try {
        request = JSON.parse(line) as AdoptRequest;
        taskFlags = flagsFor(request);
      } catch (err) {
        return { reply: { error: (err as Error).message } };
      }
      const bound = await listen(socketPath(request.socket));
      if ('inUse' in bound) return { reply: { inUse: true } };
      if (adopted) {
        bound.server.close();
        return { reply: { error: 'spare retired' } };
      }
      adopted = true;
      clearTimeout(idle);
      clearTimeout(preload);
      watch.destroy();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      server.close(); // the next `start` starts the next spare
      becomeTask(request, taskFlags);
      const serving = load().serve(taskFlags, bound.server);
      return { reply: { pid: process.pid }, serving };
    }
  });
}

/** The daemon's flags for the task, as `start` would have written them on its command line. */
function flagsFor(r: AdoptRequest): ShimFlags {
  for (const value of [r.namespace, r.id]) {
    const problem = identifierProblem(String(value));
    if (problem) throw new Error(`invalid namespace or id: ${problem}`);
  }
  if (typeof r.socket !== 'string' || typeof r.cwd !== 'string' || typeof r.env !== 'object' || r.env === null) throw new Error('malformed request');
  const argv = ['-namespace', r.namespace, '-id', r.id, '-address', r.address, '-socket', r.socket];
  if (r.publishBinary) argv.push('-publish-binary', r.publishBinary);
  if (r.debug) argv.push('-debug');
  return parseFlags(argv, r.env);
}

/** Takes on the identity a spawned daemon would have: environment, working directory, title. */
function becomeTask(r: AdoptRequest, flags: ShimFlags): void {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, r.env);
  chdir(r.cwd);
  // what `ps` and tools that look for `-id X -address Y` see, as for a spawned daemon
  process.title = [process.argv0, process.argv[1] ?? '', '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address, '-socket', flags.socket].join(' ');
}

/** Holds a connection to containerd's ttrpc socket; `gone` runs when it closes (containerd exited). */
function watchContainerd(path: string, gone: () => void): net.Socket {
  const socket = net.connect(path);
  socket.on('error', () => undefined);
  socket.once('close', gone);
  socket.on('data', () => undefined);
  socket.unref(); // the control socket keeps the spare alive, not this
  return socket;
}

function removeQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
