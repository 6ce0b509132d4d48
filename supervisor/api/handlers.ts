/**
 * The API's handlers: requests in, task manager calls, messages out — no business logic here.
 * Typed from the generated grpc-js definition: a unary method is `(request) => Promise<response>`,
 * a server-streaming one `(request, sink) => Promise<void>`, a bidirectional one
 * `(requests, sink) => Promise<void>` (api/attach.ts).
 */
import { type LogLine, Tail, isSince, linesOf } from '../logging/lines';
import { formatRestartPolicy, parseRestartPolicy } from '../tasks/restart-policy';
import type { GrpcMethod, SupervisorServiceMethods } from '../../proto/gen/supervisor.grpc';
import { toNumber } from '../../proto/long';
import { fromTimestamp, toTimestamp } from '../../proto/time';
import { DEFAULT_NAMESPACE } from '../config';
import type { Exchange } from '../events/exchange';
import { type LogRecord } from '../logging/format';
import { followLog, readLog } from '../logging/reader';
import { hasTask } from '../store/types';
import type { TaskManager } from '../tasks/task-manager';
import { attach, execAttach } from './attach';
import { api, limitsOf, toContainer, toContainerStats, toEvent } from './convert';

/** Where a streaming handler writes; `write` resolves when the client can take more. */
export interface StreamSink<T> {
  write(message: T): Promise<void>;
  /** Aborted when the client goes away or the daemon shuts down. */
  readonly signal: AbortSignal;
}

type HandlerOf<M> =
  M extends GrpcMethod<infer Req, infer Res, false, false>
    ? (request: Req) => Promise<Res>
    : M extends GrpcMethod<infer Req, infer Res, false, true>
      ? (request: Req, sink: StreamSink<Res>) => Promise<void>
      : M extends GrpcMethod<infer Req, infer Res, true, true>
        ? (requests: AsyncIterable<Req>, sink: StreamSink<Res>) => Promise<void>
        : never;

/** One handler per method of tsrunc.supervisor.v1.Supervisor. */
export type Handlers = { [K in keyof SupervisorServiceMethods]: HandlerOf<SupervisorServiceMethods[K]> };

/** What the handlers need. */
export interface HandlerDeps {
  readonly tasks: TaskManager;
  readonly exchange: Exchange;
  readonly version: string;
  readonly root: string;
  readonly namespace: string;
}

/** Default seconds between SIGTERM and SIGKILL (docker's). */
export const DEFAULT_STOP_TIMEOUT = 10;
/** After the task is gone, how long a follower waits for the log driver's final marker. */
const FOLLOW_GRACE_MS = 5_000;

/** Builds the handlers. */
export function createHandlers(deps: HandlerDeps): Handlers {
  const { tasks } = deps;
  const streamOf = (name: string): api.Stream => (name === 'stderr' ? api.Stream.STREAM_STDERR : api.Stream.STREAM_STDOUT);
  return {
    version: () =>
      Promise.resolve(api.VersionResponse.create({ version: deps.version, pid: process.pid, root: deps.root, namespace: deps.namespace || DEFAULT_NAMESPACE })),

    create: async (req) => {
      const record = await tasks.create(
        {
          name: req.name,
          runtime: req.runtime,
          rootfs: req.rootfs,
          bundle: req.bundle,
          args: req.args,
          env: req.env,
          cwd: req.cwd,
          autoRemove: req.autoRemove,
          restartPolicy: req.restartPolicy == null ? undefined : parseRestartPolicy(formatRestartPolicy({ name: req.restartPolicy.name || 'no', maxRetries: req.restartPolicy.maxRetries ?? 0 })),
          labels: req.labels,
          logConfig: req.logConfig == null ? undefined : { maxSize: toNumber(req.logConfig.maxSize), maxFiles: req.logConfig.maxFiles ?? 0 },
          resources: limitsOf(req.resources),
          terminal: req.terminal ? { width: req.size?.width ?? 0, height: req.size?.height ?? 0 } : undefined,
          stdin: req.stdin,
        },
        req.start,
      );
      return api.CreateResponse.create({ container: toContainer(record) });
    },

    start: async (req) => api.StartResponse.create({ container: toContainer(await tasks.start(req.ref)) }),
    list: (req) => Promise.resolve(api.ListResponse.create({ containers: tasks.list(req.all).map(toContainer) })),
    inspect: (req) => Promise.resolve(api.InspectResponse.create({ container: toContainer(tasks.inspect(req.ref)) })),
    kill: async (req) => api.KillResponse.create({ container: toContainer(await tasks.kill(req.ref, req.signal === 0 ? 15 : req.signal, req.all)) }),
    stop: async (req) => api.StopResponse.create({ container: toContainer(await tasks.stop(req.ref, req.timeoutSeconds ?? DEFAULT_STOP_TIMEOUT)) }),
    remove: async (req) => api.RemoveResponse.create({ container: toContainer(await tasks.remove(req.ref, req.force)) }),

    wait: async (req) => {
      const record = await tasks.wait(req.ref);
      const c = toContainer(record);
      return api.WaitResponse.create({ exitStatus: record.exitStatus ?? 0, exitedAt: c.exitedAt ?? null, container: c });
    },

    exec: async (req, sink) => {
      const result = await tasks.exec(req.ref, { args: req.args, env: req.env, cwd: req.cwd }, { write: (stream, data) => sink.write(api.ExecOutput.create({ stream: streamOf(stream), data })) });
      await sink.write(api.ExecOutput.create({ exited: true, exitStatus: result.exitStatus, pid: result.pid, execId: result.execId }));
    },

    logs: async (req, sink) => {
      const record = tasks.inspect(req.ref);
      const since = req.since == null ? undefined : fromTimestamp(req.since).getTime();
      const tail = req.hasTail === true ? (req.tail ?? 0) : undefined;
      const filtered = since !== undefined || tail !== undefined;
      const sendLine = (l: LogLine): Promise<void> => sink.write(api.LogEntry.create({ stream: streamOf(l.stream), data: Buffer.from(l.text, 'utf8'), time: timeOf(l.time) }));
      // without --since/--tail a record goes out as written; with them, line by line
      let skip = 0;
      const send = async (r: LogRecord): Promise<void> => {
        if (r.kind !== 'data') return;
        if (!filtered) return sink.write(api.LogEntry.create({ stream: streamOf(r.stream), data: Buffer.from(r.log, 'utf8'), time: timeOf(r.time) }));
        for (const l of linesOf(r)) {
          if (!isSince(l, since)) continue;
          if (skip > 0) skip--;
          else await sendLine(l);
        }
      };
      if (!req.follow) {
        if (tail !== undefined) {
          const last = new Tail(tail);
          for await (const r of readLog(record.logDir)) for (const l of linesOf(r)) if (isSince(l, since)) last.push(l);
          for (const l of last.lines()) {
            if (sink.signal.aborted) return;
            await sendLine(l);
          }
          return;
        }
        for await (const r of readLog(record.logDir)) {
          if (sink.signal.aborted) return;
          await send(r);
        }
        return;
      }
      if (tail !== undefined) {
        // following from the last `tail` lines: count what is there, skip all but those
        let count = 0;
        for await (const r of readLog(record.logDir)) for (const l of linesOf(r)) if (isSince(l, since)) count++;
        skip = Math.max(0, count - tail);
      }
      // Follow until the container has stopped and the log driver wrote its end marker (it does when
      // the task is deleted), or — should the driver be gone — a grace period after the task is.
      let ended = false;
      let goneSince: number | undefined;
      const shouldStop = (): boolean => {
        const current = tasks.store.find(record.id);
        if (current === undefined) return true;
        if (current.status === 'creating' || hasTask(current.status)) {
          goneSince = undefined;
          return false;
        }
        if (ended) return true;
        goneSince ??= Date.now();
        return Date.now() - goneSince > FOLLOW_GRACE_MS;
      };
      const onWake = (wake: () => void): (() => void) =>
        deps.exchange.subscribe((e) => {
          if (e.containerId === record.id) wake();
        });
      for await (const r of followLog(record.logDir, { shouldStop, signal: sink.signal, onWake })) {
        if (r.kind === 'mark') ended = r.mark === 'eof';
        else await send(r);
      }
    },

    update: async (req) => api.UpdateResponse.create({ container: toContainer(await tasks.update(req.ref, limitsOf(req.resources) ?? {})) }),
    pause: async (req) => api.PauseResponse.create({ container: toContainer(await tasks.pause(req.ref)) }),
    resume: async (req) => api.ResumeResponse.create({ container: toContainer(await tasks.resume(req.ref)) }),
    stats: async (req) => api.StatsResponse.create({ stats: (await tasks.stats(req.refs)).map(({ record, figures }) => toContainerStats(record, figures)) }),

    attach: (requests, sink) => attach(tasks, deps.exchange, requests, sink),
    execAttach: (requests, sink) => execAttach(tasks, requests, sink),

    events: (req, sink) =>
      new Promise<void>((resolve, reject) => {
        const only = req.ref === '' ? undefined : tasks.inspect(req.ref).id;
        let chain = Promise.resolve();
        const unsubscribe = deps.exchange.subscribe((e) => {
          if (only !== undefined && e.containerId !== only) return;
          const message = toEvent(e);
          chain = chain.then(() => sink.write(message)).catch(reject);
        });
        const done = (): void => {
          unsubscribe();
          void chain.then(resolve);
        };
        if (sink.signal.aborted) done();
        else sink.signal.addEventListener('abort', done, { once: true });
      }),
  };
}

function timeOf(iso: string): ReturnType<typeof toTimestamp> | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : toTimestamp(new Date(ms));
}
