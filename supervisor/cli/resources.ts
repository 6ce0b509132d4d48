/**
 * The CLI verbs about a running container's resources and freezing: `update`, `stats`, `pause`,
 * `resume` — and the limit flags `run` shares with `update` (--memory, --cpus, --pids-limit).
 */
import { i64 } from '../../proto/long';
import { api } from '../api/convert';
import { type OptionSpec, type ParsedArgs, UsageError, parseArgs } from './args';
import type { CliContext, Command } from './context';
import { type StatsRow, statsRow, statsTable } from './stats-format';

/** The limit flags of `run` and `update`. */
export const RESOURCE_FLAGS: readonly OptionSpec[] = [
  { names: ['-m', '--memory'], kind: 'string', key: 'memory' },
  { names: ['--cpus'], kind: 'string', key: 'cpus' },
  { names: ['--pids-limit'], kind: 'string', key: 'pidsLimit' },
];

/** `10m`, `1g`, `512k`, `1048576` (b, k, m, g; docker's units, powers of 1024) → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)i?b?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`invalid size: ${text} (e.g. 64m, 1g)`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
}

/** The Resources of the limit flags; null when none is given. */
export function resourcesFrom(a: ParsedArgs): api.Resources | null {
  const memory = a.strings.get('memory');
  const cpus = a.strings.get('cpus');
  const pids = a.strings.get('pidsLimit');
  if (memory === undefined && cpus === undefined && pids === undefined) return null;
  const out = api.Resources.create();
  if (memory !== undefined) out.memory = i64(parseSize(memory));
  if (cpus !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(cpus) || Number(cpus) <= 0) throw new UsageError(`invalid --cpus: ${cpus} (e.g. 0.5, 2)`);
    out.nanoCpus = i64(Math.round(Number(cpus) * 1e9));
  }
  if (pids !== undefined) {
    if (!/^-?\d+$/.test(pids)) throw new UsageError(`invalid --pids-limit: ${pids} (a number; -1 = unlimited)`);
    out.pidsLimit = i64(Number(pids));
  }
  return out;
}

/** `update [--memory SIZE] [--cpus N.N] [--pids-limit N] CONTAINER...` */
export const update: Command = async (ctx, argv) => {
  const a = parseArgs(argv, RESOURCE_FLAGS, false);
  if (a.positionals.length === 0) throw new UsageError('update needs at least one container');
  const resources = resourcesFrom(a);
  if (resources === null) throw new UsageError('update needs at least one of --memory, --cpus, --pids-limit');
  for (const ref of a.positionals) {
    await ctx.client().call('update', api.UpdateRequest.create({ ref, resources }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** `pause CONTAINER...` */
export const pause: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [], false);
  if (a.positionals.length === 0) throw new UsageError('pause needs at least one container');
  for (const ref of a.positionals) {
    await ctx.client().call('pause', api.PauseRequest.create({ ref }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** `resume CONTAINER...` (docker's `unpause` is accepted as a name too) */
export const resume: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [], false);
  if (a.positionals.length === 0) throw new UsageError('resume needs at least one container');
  for (const ref of a.positionals) {
    await ctx.client().call('resume', api.ResumeRequest.create({ ref }));
    ctx.out(`${ref}\n`);
  }
  return 0;
};

/** Milliseconds between two samples. */
const INTERVAL_MS = 1_000;

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function sample(ctx: CliContext, refs: readonly string[]): Promise<api.ContainerStats[]> {
  return (await ctx.client().call('stats', api.StatsRequest.create({ refs: [...refs] }))).stats as api.ContainerStats[];
}

/**
 * `stats [--no-stream] [--json] [CONTAINER...]` — CPU %, memory and pids of running containers (the
 * named ones, or all), a new sample every second until interrupted; `--no-stream`: one (from two
 * samples a second apart), `--json`: one JSON object per container per line.
 */
export const stats: Command = async (ctx, argv) => {
  const a = parseArgs(
    argv,
    [
      { names: ['--no-stream'], kind: 'bool', key: 'noStream' },
      { names: ['--json'], kind: 'bool', key: 'json' },
    ],
    false,
  );
  const json = a.bools.has('json');
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const clear = !json && !a.bools.has('noStream') && (ctx.stdout as { isTTY?: boolean }).isTTY === true;
  try {
    let previous = new Map((await sample(ctx, a.positionals)).map((s) => [s.id, s]));
    while (!stop.signal.aborted) {
      await delay(INTERVAL_MS, stop.signal);
      if (stop.signal.aborted) break;
      const current = await sample(ctx, a.positionals);
      const rows: StatsRow[] = current.map((s) => statsRow(previous.get(s.id), s));
      if (json) ctx.out(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
      else ctx.out(`${clear ? '\x1b[2J\x1b[H' : ''}${statsTable(rows)}`);
      previous = new Map(current.map((s) => [s.id, s]));
      if (a.bools.has('noStream')) break;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
};
