/**
 * `npm run bench`: our shim (io.containerd.tsrunc.v2) against Go's (io.containerd.runc.v2) in one
 * private containerd, interleaved in the same run, and a table plus one JSON line (the last line
 * of stdout) with each figure for both and the ratio ours/Go. Progress goes to stderr.
 *
 *   npx tsc -b && node --expose-gc dist/bench/shim-vs-go.js [--quick] [--only a,b] [--NAME VALUE]…
 *
 * Sections (docs/benchmarks.md says what each measures and how): lifecycle, exec, stdout, memory,
 * burst, startup, ttrpc. Everything started is removed on exit, on failure and on Ctrl-C.
 */
process.on('SIGUSR1', () => {
  process.stderr.write(`bench: pid ${process.pid}, section ${current}, ${Math.round(process.uptime())} s\n`);
});

import { writeFileSync } from 'node:fs';
import { sharedRootfs } from '../test/helpers/rootfs';
import { Cleanup } from './lib/cleanup';
import { type Context, PAIR, type PerRuntime, startContainerd } from './lib/context';
import { describeMachine, machineLine } from './lib/machine';
import { UsageError, parseOptions, usage } from './lib/options';
import { type Row, goalMet, jsonRows, markdownTable } from './lib/report';
import { burst } from './sections/burst';
import { exec, runningContainers } from './sections/exec';
import { lifecycle } from './sections/lifecycle';
import { memory } from './sections/memory';
import { startup } from './sections/startup';
import { BULK_BLOCK, stdout } from './sections/stdout';
import { ttrpcState } from './sections/ttrpc-state';

let current = 'setup';

const SECTIONS = ['lifecycle', 'exec', 'stdout', 'memory', 'burst', 'startup', 'ttrpc'] as const;

const SPECS = {
  runs: { full: 30, quick: 15, help: 'lifecycle iterations per runtime' },
  'exec-runs': { full: 100, quick: 16, help: 'exec iterations per runtime (even: pairs alternate AB BA)' },
  'stdout-runs': { full: 5, quick: 2, help: 'stdout iterations per runtime and writer' },
  'stdout-mib': { full: 512, quick: 512, help: 'MiB written to stdout per run' },
  n: { full: 20, quick: 4, help: 'memory: containers per runtime and mode' },
  'group-size': { full: 4, quick: 4, help: 'memory: containers per pod (group annotation)' },
  execs: { full: 200, quick: 10, help: 'memory: ctr task exec calls per container' },
  'exec-parallel': { full: 4, quick: 4, help: 'memory: exec calls in flight' },
  'settle-s': { full: 5, quick: 2, help: 'memory: seconds after start-up before "idle"' },
  'idle-s': { full: 60, quick: 5, help: 'memory: idle seconds after the execs' },
  burst: { full: 10, quick: 5, help: 'burst: containers started at once' },
  'burst-runs': { full: 5, quick: 2, help: 'burst: rounds per runtime' },
  'startup-runs': { full: 20, quick: 8, help: 'startup: iterations per runtime' },
  'ttrpc-calls': { full: 20000, quick: 4000, help: 'ttrpc: State calls per runtime and mode' },
  'in-flight': { full: 16, quick: 16, help: 'ttrpc: calls in flight in the concurrent mode' },
};

async function main(cleanup: Cleanup): Promise<void> {
  let parsed;
  try {
    const given = parseOptions(process.argv.slice(2), process.env, SPECS, SECTIONS);
    parsed = given;
    // checked here, not minutes later when the section starts
    const runs = (s: (typeof SECTIONS)[number]): boolean => !given.only || given.only.has(s);
    const { 'exec-runs': execRuns, 'stdout-mib': stdoutMib } = given.values;
    if (runs('exec') && (execRuns < 2 || execRuns % 2 !== 0)) throw new UsageError(`--exec-runs ${execRuns}: must be even (the pairs alternate AB BA, so each runtime goes first equally often)`);
    const stdoutBytes = stdoutMib * 1024 * 1024;
    if (runs('stdout') && (stdoutBytes <= 0 || stdoutBytes % BULK_BLOCK !== 0)) throw new UsageError(`--stdout-mib ${stdoutMib}: must be a positive multiple of 1/16 MiB (the bulk writer's 64 KiB block)`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage('npm run bench --', SPECS, SECTIONS)}\n`);
    process.exitCode = 2;
    return;
  }
  const o = parsed.values;
  const want = (s: (typeof SECTIONS)[number]): boolean => !parsed.only || parsed.only.has(s);
  const machine = describeMachine();
  const t0 = Date.now();
  const log = (message: string): void => void process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  log(`${parsed.quick ? 'quick' : 'full'} run on ${machineLine(machine)}`);

  const ct = await startContainerd(cleanup);
  let counter = 0;
  const ctx: Context = { ct, rootfs: sharedRootfs(), cleanup, log, id: (prefix) => `${prefix}${(counter++).toString(36)}` };
  log(`containerd ${ct.pid} at ${ct.address}, namespace ${ct.namespace}`);

  const rows: Row[] = [];
  const section = async (name: (typeof SECTIONS)[number], fn: () => Promise<Row[]>): Promise<Row[]> => {
    if (!want(name)) return [];
    current = name;
    const out = await fn();
    rows.push(...out);
    return out;
  };

  const life = await section('lifecycle', () => lifecycle(ctx, o.runs));
  const lifeMedian = life[0] ? ({ [PAIR[0]]: life[0].ours.median, [PAIR[1]]: life[0].go.median } as PerRuntime<number>) : undefined;
  let containers: PerRuntime<string> | undefined;
  const running = async (): Promise<PerRuntime<string>> => (containers ??= await runningContainers(ctx));
  await section('exec', async () => exec(ctx, await running(), o['exec-runs']));
  await section('ttrpc', async () => ttrpcState(ctx, await running(), o['ttrpc-calls'], o['in-flight']));
  await section('stdout', () => stdout(ctx, o['stdout-runs'], o['stdout-mib'], lifeMedian));
  await section('burst', () => burst(ctx, o.burst, o['burst-runs']));
  await section('startup', () => startup(ctx, o['startup-runs']));
  await section('memory', () =>
    memory(ctx, { n: o.n, groupSize: o['group-size'], execs: o.execs, parallel: o['exec-parallel'], settleS: o['settle-s'], idleS: o['idle-s'] }),
  );
  current = 'report';

  const seconds = Math.round((Date.now() - t0) / 1000);
  const goals = rows.filter((r) => r.goal);
  const met = goals.filter((r) => goalMet(r) === true).length;
  process.stdout.write(`\n${parsed.quick ? 'Quick' : 'Full'} run, ${new Date().toISOString()}, ${seconds} s — ${machineLine(machine)}\n`);
  process.stdout.write(`ours = io.containerd.tsrunc.v2, Go = io.containerd.runc.v2; ratio = ours/Go of the medians (and of the means); goals on the median ratio: ${met}/${goals.length} met\n\n`);
  process.stdout.write(`${markdownTable(rows)}\n\n`);
  const json = JSON.stringify({ bench: 'shim-vs-go', quick: parsed.quick, date: new Date().toISOString(), seconds, machine, options: o, goalsMet: `${met}/${goals.length}`, results: jsonRows(rows) });
  if (parsed.json) writeFileSync(parsed.json, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

const cleanup = new Cleanup();
cleanup.onSignals();
main(cleanup)
  .catch((err: unknown) => {
    process.stderr.write(`bench failed in section ${current}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup.run());
