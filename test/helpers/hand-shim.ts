/**
 * Our shim daemon run by hand, without containerd, holding REAL containers: a bundle with an OCI
 * config.json from `runc spec` (busybox rootfs, no terminal, its own cgroup path under the
 * namespace), started with the `start` action as containerd runs it, and a fake containerd events
 * endpoint on TTRPC_ADDRESS that records every Forward and can be slowed down or taken away.
 * Everything started here is stopped by `stop()`: the daemon by pid, the containers with
 * `runc delete --force`, the runc root, the cgroups and the temp dir.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server } from 'ttrpc-ts';
import { EventsServiceDefinition, events as eventTypes, type task } from '../../proto';
import { removeCgroups } from './containerd';
import { listDir } from './shim-metrics';
import { alive } from './proc';
import { sharedRootfs } from './rootfs';
import { uniqueId } from './runtimes';
import { type FakeBundle, fakeBundle, shimAction, shimPid } from './shim-process';

/** One event as the fake endpoint received it. */
export interface ReceivedEvent {
  topic: string;
  /** The process the event is about: exec id for exec-added/exec-started, `id` of an exit, else ''. */
  process: string;
  typeUrl: string;
  namespace: string;
  /** When the Forward arrived (ms since the epoch). */
  at: number;
}

function processOf(typeUrl: string, value: Uint8Array): string {
  switch (typeUrl) {
    case 'containerd.events.TaskExecAdded':
      return eventTypes.TaskExecAdded.decode(value).execId;
    case 'containerd.events.TaskExecStarted':
      return eventTypes.TaskExecStarted.decode(value).execId;
    case 'containerd.events.TaskExit':
      return eventTypes.TaskExit.decode(value).id;
    default:
      return '';
  }
}

/**
 * containerd's events service as the shim sees it (Events/Forward on TTRPC_ADDRESS), in-process.
 * `delayMs` holds every answer back; `down()` stops listening (the shim's sends then fail).
 */
export class FakeEventsEndpoint {
  readonly received: ReceivedEvent[] = [];
  delayMs = 0;
  /** Runs just before each answer is sent (after the delay), with the event being answered. */
  beforeReply: ((event: ReceivedEvent) => void) | undefined;
  private server: Server | undefined;

  constructor(readonly path: string) {}

  /** Starts listening (again). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = new Server();
    server.register(EventsServiceDefinition, {
      forward: async (req) => {
        const e = req.envelope;
        const typeUrl = e?.event?.typeUrl ?? '';
        const event = { topic: e?.topic ?? '', process: processOf(typeUrl, e?.event?.value ?? new Uint8Array(0)), typeUrl, namespace: e?.namespace ?? '', at: Date.now() };
        this.received.push(event);
        if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        this.beforeReply?.(event);
        return {};
      },
    });
    if (existsSync(this.path)) unlinkSync(this.path);
    await server.listen({ path: this.path });
    this.server = server;
  }

  /** Stops listening and drops every connection (a containerd that went away). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** Topics received so far, in order. */
  topics(): string[] {
    return this.received.map((e) => e.topic);
  }
}

/** A hand-started daemon with its bundle dir and events endpoint. */
export interface HandShim {
  bundle: FakeBundle;
  events: FakeEventsEndpoint;
  /** The daemon's pid. */
  pid: number;
  /** runc root of the namespace (where `runc delete` must look). */
  runcRoot: string;
  /** A CreateTaskRequest for a container in a bundle of this shim. */
  createRequest(id: string, bundle: string): task.CreateTaskRequest;
  stop(): Promise<void>;
}

/** Writes an OCI config.json for `args` into `bundle` (runc spec, edited). */
export function writeSpec(bundle: string, id: string, namespace: string, args: string[]): void {
  const config = join(bundle, 'config.json');
  if (existsSync(config)) unlinkSync(config);
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(config, 'utf8')) as {
    process: { terminal: boolean; args: string[] };
    root: { path: string; readonly: boolean };
    linux: { cgroupsPath?: string };
  };
  spec.process.terminal = false;
  spec.process.args = args;
  spec.root.path = sharedRootfs();
  spec.root.readonly = true;
  spec.linux.cgroupsPath = `/${namespace}/${id}`;
  writeFileSync(config, JSON.stringify(spec));
}

/** Starts our daemon by hand for container `args` (not created yet: call Create). */
export async function startHandShim(args: string[], options: { eventsUp?: boolean } = {}): Promise<HandShim> {
  const namespace = `hs${uniqueId()}`;
  const b = fakeBundle(uniqueId('h'), namespace);
  const runcRoot = join('/run/containerd/runc', namespace);
  const events = new FakeEventsEndpoint(`${b.address}.ttrpc`);
  const stop = async (): Promise<void> => {
    try {
      const pid = shimPid(b);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // never started
    }
    await events.down();
    for (const id of new Set([b.id, ...listDir(runcRoot)])) {
      try {
        execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {
        // not created, or gone
      }
    }
    rmSync(runcRoot, { recursive: true, force: true });
    removeCgroups(namespace);
    if (existsSync(b.socket)) unlinkSync(b.socket);
    b.remove();
  };
  try {
    writeSpec(b.bundle, b.id, namespace, args);
    if (options.eventsUp ?? true) await events.up();
    const r = await shimAction(b, 'start');
    if (r.code !== 0) throw new Error(`start failed (${r.code}): ${r.stdout.toString()}${r.stderr.toString()}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    bundle: b,
    events,
    pid: shimPid(b),
    runcRoot,
    createRequest: (id, bundle) => ({ id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: '', parentCheckpoint: '', options: null }),
    stop,
  };
}

/** Reads what the daemon wrote to its log FIFO so far (the test holds the FIFO O_RDWR, as containerd). */
export function drainLog(b: FakeBundle): string {
  const buf = Buffer.alloc(1 << 16);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(b.logFd, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: nothing more now
    }
    if (n <= 0) break;
    text += buf.toString('utf8', 0, n);
  }
  return text;
}
