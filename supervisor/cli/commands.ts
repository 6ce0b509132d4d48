/**
 * The CLI verbs that manage containers: ps, inspect, start, kill, stop, rm, logs, events.
 * (`run` and `exec`, which attach to output, are in run.ts.) Each prints a table or line a person
 * reads, or with `--json` one JSON document (`events --json`: one per line).
 */
import { constants as osConstants } from 'node:os';
import { api } from '../api/convert';
import { fromTimestamp, toTimestamp } from '../../proto/time';
import { type OptionSpec, UsageError, parseArgs } from './args';
import type { CliContext, Command } from './context';
import { containerJson, eventJson, eventLine, psTable } from './format';

const JSON_FLAG: OptionSpec = { names: ['--json'], kind: 'bool', key: 'json' };

function needRefs(positionals: readonly string[], verb: string): readonly string[] {
  if (positionals.length === 0) throw new UsageError(`${verb} needs at least one container`);
  return positionals;
}

/** `ps [-a] [-q] [--json]` */
export const ps: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['-a', '--all'], kind: 'bool', key: 'all' }, { names: ['-q', '--quiet'], kind: 'bool', key: 'quiet' }, JSON_FLAG], false);
  if (a.positionals.length > 0) throw new UsageError(`ps takes no arguments (got ${a.positionals.join(' ')})`);
  // decoded nested messages are full Container instances (pbts types them as their properties)
  const containers = (await ctx.client().call('list', api.ListRequest.create({ all: a.bools.has('all') }))).containers as api.Container[];
  if (a.bools.has('json')) ctx.out(`${JSON.stringify(containers.map(containerJson), null, 2)}\n`);
  else if (a.bools.has('quiet')) ctx.out(containers.map((c) => `${c.id}\n`).join(''));
  else ctx.out(psTable(containers));
  return 0;
};

/** `inspect CONTAINER...` — always JSON (an array, as docker prints it). */
export const inspect: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [JSON_FLAG], false);
  const found: Record<string, unknown>[] = [];
  for (const ref of needRefs(a.positionals, 'inspect')) {
    const { container } = await ctx.client().call('inspect', api.InspectRequest.create({ ref }));
    if (container != null) found.push(containerJson(container as api.Container));
  }
  ctx.out(`${JSON.stringify(found, null, 2)}\n`);
  return 0;
};

/** `start CONTAINER...` */
export const start: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [], false);
  for (const ref of needRefs(a.positionals, 'start')) {
    await ctx.client().call('start', api.StartRequest.create({ ref }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** A signal by name (`KILL`, `SIGKILL`) or number. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0 && n < 65) return n;
  } else {
    const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
    const n = osConstants.signals[name];
    if (typeof n === 'number') return n;
  }
  throw new UsageError(`invalid signal: ${text}`);
}

/** `kill [-s SIGNAL] [--all] CONTAINER...` (default SIGKILL, as docker) */
export const kill: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['-s', '--signal'], kind: 'string', key: 'signal' }, { names: ['--all'], kind: 'bool', key: 'all' }], false);
  const signal = parseSignal(a.strings.get('signal') ?? 'KILL');
  for (const ref of needRefs(a.positionals, 'kill')) {
    await ctx.client().call('kill', api.KillRequest.create({ ref, signal, all: a.bools.has('all') }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** `stop [-t|--timeout SECONDS] CONTAINER...` — SIGTERM, then SIGKILL after the timeout (10 s). */
export const stop: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['-t', '--timeout', '--time'], kind: 'string', key: 'timeout' }], false);
  const text = a.strings.get('timeout');
  if (text !== undefined && !/^\d+$/.test(text)) throw new UsageError(`invalid --timeout: ${text} (seconds)`);
  for (const ref of needRefs(a.positionals, 'stop')) {
    await ctx.client().call('stop', api.StopRequest.create(text === undefined ? { ref } : { ref, timeoutSeconds: Number(text) }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** `rm [-f] CONTAINER...` */
export const rm: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['-f', '--force'], kind: 'bool', key: 'force' }], false);
  for (const ref of needRefs(a.positionals, 'rm')) {
    await ctx.client().call('remove', api.RemoveRequest.create({ ref, force: a.bools.has('force') }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** Copies a container's captured output to our stdout/stderr (follows with `follow`). */
export async function copyLogs(ctx: CliContext, ref: string, follow: boolean, query: LogQuery = {}): Promise<void> {
  const request = api.LogsRequest.create({ ref, follow });
  if (query.sinceMs !== undefined) request.since = toTimestamp(new Date(query.sinceMs));
  if (query.tail !== undefined) {
    request.tail = query.tail;
    request.hasTail = true;
  }
  for await (const entry of ctx.client().stream('logs', request)) {
    const stream = entry.stream === api.Stream.STREAM_STDERR ? 'stderr' : 'stdout';
    if (query.timestamps === true) {
      const at = entry.time == null ? '' : fromTimestamp(entry.time).toISOString();
      await ctx.write(stream, Buffer.concat([Buffer.from(`${at} `), Buffer.from(entry.data)]));
    } else {
      await ctx.write(stream, entry.data);
    }
  }
}

/** `logs` options beyond -f. */
export interface LogQuery {
  sinceMs?: number;
  tail?: number;
  /** Prefix each line with its time (the daemon then sends line by line). */
  timestamps?: boolean;
}

/** `--since`: an RFC 3339 time, or a duration before now (`90s`, `5m`, `1h30m`, `250ms`). */
export function parseSince(text: string, now = Date.now()): number {
  if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) {
    const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const [, n, , u] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * (unit[u ?? 's'] ?? 1000);
    return now - ms;
  }
  const at = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) throw new UsageError(`invalid --since ${JSON.stringify(text)}: an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (10s, 5m, 1h)`);
  return at;
}

/** `logs [-f] [-t] [--since T] [--tail N] CONTAINER` */
export const logs: Command = async (ctx, argv) => {
  const a = parseArgs(
    argv,
    [
      { names: ['-f', '--follow'], kind: 'bool', key: 'follow' },
      { names: ['-t', '--timestamps'], kind: 'bool', key: 'timestamps' },
      { names: ['--since'], kind: 'string', key: 'since' },
      { names: ['-n', '--tail'], kind: 'string', key: 'tail' },
    ],
    false,
  );
  if (a.positionals.length !== 1) throw new UsageError('logs needs exactly one container');
  const query: LogQuery = { timestamps: a.bools.has('timestamps') };
  const since = a.strings.get('since');
  if (since !== undefined) query.sinceMs = parseSince(since);
  const tail = a.strings.get('tail');
  if (tail !== undefined && tail !== 'all') {
    if (!/^\d+$/.test(tail)) throw new UsageError(`invalid --tail ${JSON.stringify(tail)}: a number of lines, or all`);
    query.tail = Number(tail);
  }
  // -t needs line boundaries: ask for every line (the daemon splits records) when no tail is set
  if (query.timestamps === true && query.tail === undefined && query.sinceMs === undefined) query.sinceMs = 0;
  await copyLogs(ctx, a.positionals[0] ?? '', a.bools.has('follow'), query);
  return 0;
};

/** `events [--json] [CONTAINER]` — until interrupted. */
export const events: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [JSON_FLAG], false);
  if (a.positionals.length > 1) throw new UsageError('events takes at most one container');
  const stream = ctx.client().stream('events', api.EventsRequest.create({ ref: a.positionals[0] ?? '' }));
  const stopOnSignal = (): void => stream.cancel();
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    for await (const e of stream) ctx.out(a.bools.has('json') ? `${JSON.stringify(eventJson(e))}\n` : `${eventLine(e)}\n`);
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
  return 0;
};
