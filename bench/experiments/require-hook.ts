/**
 * A `--require` hook that times module loading by origin and marks a shim's start-up milestones,
 * for bench/experiments/startup-profile.ts. Measurement tool only: never part of the shim.
 *
 *   BENCH_PROFILE_DIR=/tmp/x node --require dist/bench/experiments/require-hook.js bin/containerd-shim-tsrunc-v2 …
 *
 * Every Module._load is timed (inclusive); a module's self time is its inclusive time minus its
 * children's, and is charged to an origin: a package under node_modules (everything a package loads
 * counts as that package), our folders in dist/ (shim, native, proto, proto/gen), ttrpc-ts, Node's
 * built-ins. Milestones (epoch ms, sub-ms): the hook loaded (≈ Node's bootstrap done), the entry's
 * require done, net.Server listen called / listening, the first connection accepted, the first write
 * on it (the first answer). Spans (epoch ms): every ttrpc handler call (Server.register of ttrpc-ts
 * is wrapped) and every child process (child_process.spawn is wrapped: `runc create`, …). At exit one
 * JSON file per process: $BENCH_PROFILE_DIR/<pid>.json.
 */
process.on('SIGUSR1', () => undefined); // also an entry point of sorts: it runs before the program

import type * as ChildProcessModule from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { isPackage, originOf } from './origin';

interface Loader {
  _load(request: string, parent: { filename?: string } | undefined, isMain: boolean): unknown;
  _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
}

const now = (): number => performance.timeOrigin + performance.now();
const marks: Record<string, number> = { processStart: performance.timeOrigin, hookLoaded: now() };
const origins: Record<string, { selfMs: number; files: number }> = {};
let requireMs = 0;
/** [name, start, end] in epoch ms. */
const spans: [string, number, number][] = [];

function mark(name: string): void {
  marks[name] ??= now();
}

/* eslint-disable @typescript-eslint/no-require-imports -- the real Module object, not an import copy */
const Module = require('node:module') as Loader;
const childProcess = require('node:child_process') as typeof ChildProcessModule;
/* eslint-enable @typescript-eslint/no-require-imports */
const originalLoad = Module._load.bind(Module);
const stack: { origin: string; children: number }[] = [];

Module._load = function load(request, parent, isMain) {
  let file: string;
  try {
    file = request.startsWith('node:') ? request : Module._resolveFilename(request, parent, isMain);
  } catch {
    return originalLoad(request, parent, isMain); // let Node throw its own error
  }
  const inherited = stack.length > 0 ? stack[stack.length - 1]?.origin : undefined;
  const own = originOf(file);
  // a package's own dependencies count as the package (winston → logform, readable-stream, …)
  const origin = inherited !== undefined && isPackage(inherited) ? inherited : own;
  const frame = { origin, children: 0 };
  stack.push(frame);
  const t0 = performance.now();
  try {
    return originalLoad(request, parent, isMain);
  } finally {
    const inclusive = performance.now() - t0;
    stack.pop();
    const entry = (origins[origin] ??= { selfMs: 0, files: 0 });
    entry.selfMs += inclusive - frame.children;
    entry.files++;
    const up = stack[stack.length - 1];
    if (up) up.children += inclusive;
    else requireMs += inclusive;
    if (stack.length === 0 && !isMain && request.endsWith('main.js')) mark('entryLoaded');
  }
};

type Handler = (request: unknown, context: unknown) => Promise<unknown>;
interface ServerClass {
  prototype: { register: (this: unknown, definition: { methods: Record<string, { name: string }> }, implementation: Record<string, Handler>) => unknown };
}

/** Wraps ttrpc-ts's Server.register so that every handler call is a span named after its method. */
function patchTtrpc(exports: unknown): void {
  const server = (exports as { Server?: ServerClass }).Server;
  if (typeof server?.prototype.register !== 'function' || patchedTtrpc) return;
  patchedTtrpc = true;
  const register = server.prototype.register;
  server.prototype.register = function (this: unknown, definition, implementation) {
    const wrapped: Record<string, Handler> = {};
    for (const [key, method] of Object.entries(definition.methods)) {
      const fn = implementation[key];
      if (!fn) continue;
      wrapped[key] = async (request, context) => {
        const t0 = now();
        try {
          return await fn.call(implementation, request, context);
        } finally {
          spans.push([`rpc ${method.name}`, t0, now()]);
        }
      };
    }
    return register.call(this, definition, wrapped);
  };
}
let patchedTtrpc = false;

const loadTimed = Module._load.bind(Module);
Module._load = function load(request, parent, isMain) {
  const exports = loadTimed(request, parent, isMain);
  if (!patchedTtrpc && (request === 'ttrpc-ts' || request.endsWith('/server'))) patchTtrpc(exports);
  return exports;
};

const originalSpawn = childProcess.spawn;
(childProcess as { spawn: unknown }).spawn = function spawn(...args: Parameters<typeof ChildProcessModule.spawn>) {
  const t0 = now();
  const child = (originalSpawn as (...a: unknown[]) => ChildProcessModule.ChildProcess)(...args);
  const command = typeof args[0] === 'string' ? (args[0].split('/').pop() ?? '') : '';
  const argv = Array.isArray(args[1]) ? (args[1] as string[]) : [];
  const verb = argv.find((a) => ['create', 'start', 'delete', 'exec', 'kill', 'state', 'pause', 'resume', 'ps', 'update', 'events', 'checkpoint', 'restore'].includes(a)) ?? '';
  child.once('exit', () => spans.push([`child ${command} ${verb}`.trim(), t0, now()]));
  return child;
};

// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]) {
  mark('listenCalled');
  this.once('listening', () => mark('listening'));
  this.once('connection', (socket: net.Socket) => {
    mark('firstConnection');
    const write = socket.write.bind(socket);
    socket.write = ((...a: Parameters<typeof write>) => {
      mark('firstAnswerWritten');
      return write(...a);
    }) as typeof socket.write;
  });
  return (originalListen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof net.Server.prototype.listen;

process.on('exit', () => {
  const dir = process.env['BENCH_PROFILE_DIR'];
  if (!dir) return;
  const argv = process.argv.slice(2);
  const last = argv[argv.length - 1] ?? '';
  const action = ['start', 'delete'].includes(last) ? last : argv.includes('-v') ? 'version' : 'daemon';
  const id = argv[argv.indexOf('-id') + 1] ?? '';
  writeFileSync(`${dir}/${process.pid}.json`, JSON.stringify({ pid: process.pid, id, action, marks: { ...marks, exit: now() }, requireMs, origins, spans }));
});
