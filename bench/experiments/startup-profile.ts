/**
 * Where our shim's start-up time goes, measured three ways (a measurement tool, not wired into the
 * shim):
 *   A. timeline: `start` and the daemon under a `--require` hook (require-hook.ts) with a fake bundle
 *      (lib/hand-shim.ts): Node's bootstrap, module loading by origin (self ms), init, listening,
 *      first connection, first answer; and the `delete` process;
 *   B. CPU profiles (`--cpu-prof`, 100 µs interval) of `start`, the daemon up to its first answer,
 *      and `delete`: self time by origin, GC and V8/native "(program)" time;
 *   C. under a real containerd (runtime io.containerd.tsprof.v2 = our shim with the hook): lifecycle
 *      and exec, and which origins each kind of process loaded — does winston load on the normal path?
 *
 *   npx tsc -b && node dist/bench/experiments/startup-profile.js [runs]
 */
process.on('SIGUSR1', () => undefined);

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from '../lib/cleanup';
import { removeContainers, startContainerd } from '../lib/context';
import { type ActionTiming, type FirstAnswer, type ShimCommand, SHIM, bundleFor, epoch, firstAnswer, removeLeftovers, shimAction, stopDaemon, timedExec } from '../lib/hand-shim';
import { sharedRootfs } from '../../test/helpers/rootfs';
import { cleanEnv } from '../../test/helpers/containerd';
import { selfTimeByOrigin } from './cpu-profile';
import { f1, installRuntime, median, nodeWrapper, table } from './lib';

const HOOK = join(__dirname, 'require-hook.js');

interface HookReport {
  pid: number;
  id: string;
  action: string;
  spans?: [string, number, number][];
  marks: Record<string, number>;
  requireMs: number;
  origins: Record<string, { selfMs: number; files: number }>;
}

interface Run {
  start: ActionTiming;
  answer: FirstAnswer;
  del: ActionTiming;
}

function readReport(dir: string, pid: number): HookReport | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, `${pid}.json`), 'utf8')) as HookReport;
  } catch {
    return undefined;
  }
}

/** start → first answer → Shutdown → delete, with a fake bundle. */
async function handRun(shim: ShimCommand, i: number): Promise<Run> {
  const b = bundleFor(`p${i}`, `prof${process.pid}`);
  try {
    const start = await shimAction(shim, b, 'start');
    if (start.code !== 0) throw new Error(`start exited ${start.code}: ${start.stdout}${start.stderr}`);
    const answer = await firstAnswer(b);
    await stopDaemon(b, answer.pid);
    const del = await shimAction(shim, b, 'delete');
    return { start, answer, del };
  } finally {
    removeLeftovers(b);
  }
}

function collect<T>(values: T[], pick: (v: T) => number | undefined): number {
  return median(values.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));
}

async function timeline(runs: number, cleanup: Cleanup): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-prof-'));
  const drop = cleanup.add('remove profile dir', () => rmSync(dir, { recursive: true, force: true }));
  const shim: ShimCommand = { command: process.execPath, prefix: ['--require', HOOK, SHIM], env: { BENCH_PROFILE_DIR: dir } };
  const rows: { run: Run; start: HookReport | undefined; daemon: HookReport | undefined; del: HookReport | undefined; floor: HookReport | undefined }[] = [];
  await handRun(shim, -1); // warm-up
  for (let i = 0; i < runs; i++) {
    const run = await handRun(shim, i);
    const floor = await timedExec(process.execPath, ['--require', HOOK, '-e', '0'], { env: cleanEnv({ BENCH_PROFILE_DIR: dir }) });
    rows.push({ run, start: readReport(dir, run.start.pid), daemon: readReport(dir, run.answer.pid), del: readReport(dir, run.del.pid), floor: readReport(dir, floor.pid) });
  }
  rmSync(dir, { recursive: true, force: true });
  drop();

  const rel = (pick: (r: (typeof rows)[number]) => number | undefined): string => f1(collect(rows, pick));
  const m = (r: HookReport | undefined, name: string): number | undefined => r?.marks[name];
  const timelineRows: string[][] = [
    ['`start` spawned', '0'],
    ['`start`: Node process start (exec, before bootstrap)', rel((r) => (m(r.start, 'processStart') ?? NaN) - r.run.start.spawnedAt)],
    ['`start`: bootstrap done (hook loaded)', rel((r) => (m(r.start, 'hookLoaded') ?? NaN) - r.run.start.spawnedAt)],
    ['`start`: its modules loaded (ms of require)', rel((r) => r.start?.requireMs)],
    ['daemon: Node process start', rel((r) => (m(r.daemon, 'processStart') ?? NaN) - r.run.start.spawnedAt)],
    ['`start` exited', rel((r) => r.run.start.exitedAt - r.run.start.spawnedAt)],
    ['daemon: bootstrap done (hook loaded)', rel((r) => (m(r.daemon, 'hookLoaded') ?? NaN) - r.run.start.spawnedAt)],
    ['daemon: listen() called', rel((r) => (m(r.daemon, 'listenCalled') ?? NaN) - r.run.start.spawnedAt)],
    ['daemon: listening', rel((r) => (m(r.daemon, 'listening') ?? NaN) - r.run.start.spawnedAt)],
    ['daemon: first connection accepted', rel((r) => (m(r.daemon, 'firstConnection') ?? NaN) - r.run.start.spawnedAt)],
    ['daemon: first answer written', rel((r) => (m(r.daemon, 'firstAnswerWritten') ?? NaN) - r.run.start.spawnedAt)],
    ['client: first answer received', rel((r) => r.run.answer.at - r.run.start.spawnedAt)],
  ];
  const phaseRows: string[][] = [
    ['`node -e 0`: process start → bootstrap done', rel((r) => (m(r.floor, 'hookLoaded') ?? NaN) - (m(r.floor, 'processStart') ?? NaN))],
    ['`node -e 0`: spawn → exit', rel((r) => (m(r.floor, 'exit') ?? NaN) - (m(r.floor, 'processStart') ?? NaN))],
    ['daemon: process start → bootstrap done', rel((r) => (m(r.daemon, 'hookLoaded') ?? NaN) - (m(r.daemon, 'processStart') ?? NaN))],
    ['daemon: module loading (require, incl. top-level code)', rel((r) => r.daemon?.requireMs)],
    ['daemon: init outside require, bootstrap → listening', rel((r) => (m(r.daemon, 'listening') ?? NaN) - (m(r.daemon, 'hookLoaded') ?? NaN) - (r.daemon?.requireMs ?? NaN))],
    ['daemon: first connection → first answer written', rel((r) => (m(r.daemon, 'firstAnswerWritten') ?? NaN) - (m(r.daemon, 'firstConnection') ?? NaN))],
    ['client: second call (steady-state round trip)', rel((r) => r.run.answer.secondMs)],
    ['`start` process total', rel((r) => r.run.start.ms)],
    ['`delete` process total', rel((r) => r.run.del.ms)],
    ['`delete`: module loading', rel((r) => r.del?.requireMs)],
  ];
  const origins = new Set<string>();
  for (const r of rows) for (const rep of [r.start, r.daemon, r.del]) for (const o of Object.keys(rep?.origins ?? {})) origins.add(o);
  const originRows = [...origins].sort().map((o) => {
    const cell = (pick: (r: (typeof rows)[number]) => HookReport | undefined): string => {
      const files = collect(rows, (r) => pick(r)?.origins[o]?.files);
      return Number.isFinite(files) && files > 0 ? `${f1(collect(rows, (r) => pick(r)?.origins[o]?.selfMs ?? 0))} (${files})` : '';
    };
    return [o, cell((r) => r.start), cell((r) => r.daemon), cell((r) => r.del)];
  });
  return [
    `### A. Timeline (median of ${runs} runs, ms since \`start\` was spawned; fake bundle, require hook loaded)`,
    '',
    table(['milestone', 'ms'], timelineRows),
    '',
    table(['phase', 'ms'], phaseRows),
    '',
    'Module loading by origin: self ms (files), median; a package’s own dependencies count as the package',
    '',
    table(['origin', '`start`', 'daemon', '`delete`'], originRows),
  ].join('\n');
}

async function cpuProfiles(runs: number, cleanup: Cleanup): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-cpuprof-'));
  const drop = cleanup.add('remove cpu profile dir', () => rmSync(dir, { recursive: true, force: true }));
  const shim: ShimCommand = { command: process.execPath, prefix: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', SHIM] };
  const per: Record<'start' | 'daemon' | 'delete', Record<string, number>[]> = { start: [], daemon: [], delete: [] };
  for (let i = 0; i < runs; i++) {
    const run = await handRun(shim, 100 + i);
    const files = readdirSync(dir);
    const fileOf = (pid: number): string | undefined => files.find((f) => f.includes(`.${pid}.`));
    const s = fileOf(run.start.pid);
    const d = fileOf(run.answer.pid);
    const x = fileOf(run.del.pid);
    if (s) per.start.push(selfTimeByOrigin(join(dir, s)));
    if (d) per.daemon.push(selfTimeByOrigin(join(dir, d), run.answer.atMonoUs));
    if (x) per.delete.push(selfTimeByOrigin(join(dir, x)));
    for (const f of files) rmSync(join(dir, f), { force: true });
  }
  rmSync(dir, { recursive: true, force: true });
  drop();
  const origins = new Set<string>();
  for (const list of Object.values(per)) for (const p of list) for (const o of Object.keys(p)) origins.add(o);
  const cell = (list: Record<string, number>[], o: string): string => f1(median(list.map((p) => p[o] ?? 0)));
  const total = (list: Record<string, number>[]): string => f1(median(list.map((p) => Object.values(p).reduce((a, b) => a + b, 0))));
  const rows = [...origins].sort().map((o) => [o, cell(per.start, o), cell(per.daemon, o), cell(per.delete, o)]);
  rows.push(['**total sampled**', total(per.start), total(per.daemon), total(per.delete)]);
  return [
    `### B. CPU profiles (--cpu-prof, 100 µs sampling; self ms by origin, median of ${runs}; daemon up to its first answer)`,
    '',
    table(['origin', '`start`', 'daemon', '`delete`'], rows),
  ].join('\n');
}

async function underContainerd(cleanup: Cleanup, lifecycles: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-prof-ct-'));
  cleanup.add('remove profile dir', () => rmSync(dir, { recursive: true, force: true }));
  const ct = await startContainerd(cleanup);
  const runtime = installRuntime(ct, 'tsprof', nodeWrapper(SHIM, ['--require', HOOK], { BENCH_PROFILE_DIR: dir }));
  const rootfs = sharedRootfs();
  const ctrSpawned = new Map<string, [number, number]>();
  await ct.ctrOk(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, 'warm', '/bin/true']);
  for (let i = 0; i < lifecycles; i++) {
    const t0 = epoch();
    await ct.ctrOk(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, `pr${i}`, '/bin/true']);
    ctrSpawned.set(`pr${i}`, [t0, epoch()]);
  }
  cleanup.add('remove pe', () => removeContainers(ct, ['pe']));
  await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', rootfs, 'pe', '/bin/sleep', '100000']);
  for (let i = 0; i < 5; i++) await ct.ctrOk(['task', 'exec', '--exec-id', `x${i}`, 'pe', '/bin/sh', '-c', 'echo hi']);
  await ct.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'pe']);
  await ct.ctr(['task', 'delete', 'pe']);
  await ct.ctrOk(['container', 'delete', 'pe']);
  await new Promise((r) => setTimeout(r, 1000)); // the shims exit after their last task is deleted
  await ct.stop();
  const reports = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as HookReport);

  const byAction = new Map<string, HookReport[]>();
  for (const r of reports) byAction.set(r.action, [...(byAction.get(r.action) ?? []), r]);
  const processRows = [...byAction.entries()].map(([action, list]) => {
    const origins = new Set(list.flatMap((r) => Object.keys(r.origins)));
    const files = median(list.map((r) => Object.values(r.origins).reduce((a, o) => a + o.files, 0)));
    return [action, String(list.length), f1(median(list.map((r) => r.requireMs))), String(files), list.filter((r) => 'winston' in r.origins).length.toString(), [...origins].sort().join(', ')];
  });

  // one lifecycle's timeline: the start, daemon and delete processes of one id, relative to ctr's spawn
  const steps = new Map<string, { at: number[]; ms: number[] }>();
  const add = (key: string, at: number, ms: number): void => {
    const s = steps.get(key) ?? { at: [], ms: [] };
    s.at.push(at);
    s.ms.push(ms);
    steps.set(key, s);
  };
  for (const [id, [t0, t1]] of ctrSpawned) {
    const of = (action: string): HookReport | undefined => reports.find((r) => r.id === id && r.action === action);
    const start = of('start');
    const daemon = of('daemon');
    const del = of('delete');
    if (!start || !daemon || !del) continue;
    add('`start` process (start → exit)', (start.marks['processStart'] ?? NaN) - t0, (start.marks['exit'] ?? NaN) - (start.marks['processStart'] ?? NaN));
    add('daemon: process start → bootstrap done', (daemon.marks['processStart'] ?? NaN) - t0, (daemon.marks['hookLoaded'] ?? NaN) - (daemon.marks['processStart'] ?? NaN));
    add('daemon: bootstrap done → listening (modules, init)', (daemon.marks['hookLoaded'] ?? NaN) - t0, (daemon.marks['listening'] ?? NaN) - (daemon.marks['hookLoaded'] ?? NaN));
    const seen = new Map<string, number>();
    for (const [name, a, b] of [...(daemon.spans ?? [])].sort((x, y) => x[1] - y[1])) {
      const k = (seen.get(name) ?? 0) + 1;
      seen.set(name, k);
      add(`daemon: ${name}${k > 1 ? ` #${k}` : ''}`, a - t0, b - a);
    }
    add('`delete` process (start → exit)', (del.marks['processStart'] ?? NaN) - t0, (del.marks['exit'] ?? NaN) - (del.marks['processStart'] ?? NaN));
    for (const [name, a, b] of del.spans ?? []) add(`delete: ${name}`, a - t0, b - a);
    add('daemon: exit', (daemon.marks['exit'] ?? NaN) - t0, 0);
    add('ctr run --rm returned', t1 - t0, 0);
  }
  const stepRows = [...steps.entries()]
    .map(([name, s]) => ({ name, at: median(s.at), ms: median(s.ms), n: s.at.length }))
    .sort((a, b) => a.at - b.at)
    .map((s) => [s.name, f1(s.at), f1(s.ms), String(s.n)]);

  const execSpans = (reports.find((r) => r.id === 'pe' && r.action === 'daemon')?.spans ?? []).filter(([name]) => /Exec|Start|Wait|Delete|runc exec|runc delete/.test(name));
  const byName = new Map<string, number[]>();
  for (const [name, a, b] of execSpans) byName.set(name, [...(byName.get(name) ?? []), b - a]);
  const execRows = [...byName.entries()].map(([name, ms]) => [name, String(ms.length), f1(median(ms))]);
  return [
    '### C. Under containerd (runtime = our shim + the hook)',
    '',
    `Processes of ${lifecycles + 1} × \`ctr run --rm /bin/true\` and one container with 5 \`ctr task exec\`, kill, delete:`,
    '',
    table(['process', 'count', 'require ms (median)', 'modules (median)', 'loaded winston', 'origins loaded'], processRows),
    '',
    `One \`ctr run --rm /bin/true\` (median of ${lifecycles}; ms since ctr was spawned; rpc = our handler's time, child = a runc process's lifetime):`,
    '',
    table(['step', 'begins at', 'lasts', 'n'], stepRows),
    '',
    'Exec in a running container (the 5 `ctr task exec`; handler and runc times, median):',
    '',
    table(['span', 'n', 'ms'], execRows),
  ].join('\n');
}

async function main(cleanup: Cleanup): Promise<void> {
  const runs = Number(process.argv[2] ?? 15);
  const out = [await timeline(runs, cleanup), '', await cpuProfiles(Math.max(5, Math.round(runs / 2)), cleanup), '', await underContainerd(cleanup, Math.max(3, Math.round(runs / 3)))];
  process.stdout.write(`${out.join('\n')}\n`);
}

const cleanup = new Cleanup();
cleanup.onSignals();
main(cleanup)
  .catch((err: unknown) => {
    process.stderr.write(`startup-profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup.run());
