/**
 * `npm run bench:ttrpc`: unary calls per second and p50/p99 latency of our ttrpc client against
 *   - our server: ttrpc-ts in its own process (bench/ttrpc-server.ts) answering Task.State with a
 *     constant StateResponse;
 *   - Go's shim: Task.State of a running container of io.containerd.runc.v2 in a private containerd;
 *   - our shim: the same against io.containerd.tsrunc.v2 (same containerd), for reference;
 * side by side in one run, sequential and with `--in-flight` calls outstanding, the targets
 * alternating round by round. A table and one JSON line (the last line of stdout).
 *
 *   npx tsc -b && node dist/bench/ttrpc.js [--quick] [--calls N] [--in-flight N] [--rounds N]
 */
process.on('SIGUSR1', () => {
  process.stderr.write(`bench:ttrpc: pid ${process.pid}, ${Math.round(process.uptime())} s\n`);
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ttrpc-ts';
import { sharedRootfs } from '../test/helpers/rootfs';
import { TaskServiceDefinition } from '../proto';
import { Cleanup } from './lib/cleanup';
import { GO_RUNTIME, OUR_RUNTIME, removeContainers, startContainerd, timedCtr } from './lib/context';
import { load, rate } from './lib/load';
import { describeMachine, machineLine } from './lib/machine';
import { UsageError, parseOptions, usage } from './lib/options';
import { type Row, jsonRows, markdownTable, row } from './lib/report';
import { percentile } from './lib/stats';

const SPECS = {
  calls: { full: 40000, quick: 8000, help: 'calls per target and mode' },
  'in-flight': { full: 16, quick: 16, help: 'calls outstanding in the concurrent mode' },
  rounds: { full: 8, quick: 4, help: 'alternating rounds per mode' },
};

type Target = 'our server' | 'Go shim' | 'our shim';

async function startServer(cleanup: Cleanup, socket: string): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'ttrpc-server.js'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.add('stop the ttrpc server', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ttrpc-server exited ${code} before it was ready`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
  });
}

async function main(cleanup: Cleanup): Promise<void> {
  let parsed;
  try {
    parsed = parseOptions(process.argv.slice(2), process.env, SPECS, []);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage('npm run bench:ttrpc --', SPECS, [])}\n`);
    process.exitCode = 2;
    return;
  }
  const o = parsed.values;
  const machine = describeMachine();
  const t0 = Date.now();
  const log = (message: string): void => void process.stderr.write(`[bench:ttrpc ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-bench-'));
  cleanup.add('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const serverSocket = join(dir, 'server.sock');
  await startServer(cleanup, serverSocket);

  const ct = await startContainerd(cleanup);
  const ids = { 'Go shim': `tg${process.pid}`, 'our shim': `tt${process.pid}` };
  for (const [target, runtime] of [
    ['Go shim', GO_RUNTIME],
    ['our shim', OUR_RUNTIME],
  ] as const) {
    cleanup.add(`remove ${ids[target]}`, () => removeContainers(ct, [ids[target]]));
    await timedCtr(ct, ['run', '-d', '--runtime', runtime, '--rootfs', sharedRootfs(), ids[target], '/bin/sleep', '1000000']);
  }
  log(`server ${serverSocket}; containerd ${ct.pid} with one container per runtime`);

  const sockets: Record<Target, string> = { 'our server': serverSocket, 'Go shim': ct.shimSocket(ids['Go shim']), 'our shim': ct.shimSocket(ids['our shim']) };
  const targets = Object.keys(sockets) as Target[];
  const clients = new Map<Target, Client>();
  for (const t of targets) {
    const client = await Client.connect(sockets[t], { timeout: 5000 });
    clients.set(t, client);
    cleanup.add(`close the ${t} client`, () => client.close());
  }
  const stateOf = (t: Target): (() => Promise<unknown>) => {
    const stub = clients.get(t)?.service(TaskServiceDefinition);
    if (!stub) throw new Error(`no client for ${t}`);
    const id = t === 'our server' ? 'bench' : ids[t];
    return () => stub.state({ id, execId: '' });
  };

  const rows: Row[] = [];
  for (const [mode, depth] of [
    ['sequential', 1],
    [`${o['in-flight']} in flight`, o['in-flight']],
  ] as const) {
    const perSec = new Map<Target, number[]>(targets.map((t) => [t, []]));
    const lat = new Map<Target, number[]>(targets.map((t) => [t, []]));
    for (const t of targets) await load(stateOf(t), 1000, depth); // warm-up
    const perRound = Math.ceil(o.calls / o.rounds);
    for (let r = 0; r < o.rounds; r++) {
      for (const t of targets) {
        const round = await load(stateOf(t), perRound, depth);
        perSec.get(t)?.push(rate(round));
        lat.get(t)?.push(...round.latencies.map((ms) => ms * 1000));
      }
    }
    const pct = (t: Target, q: number): number[] => [percentile([...(lat.get(t) ?? [])].sort((a, b) => a - b), q)];
    for (const [section, ours] of [
      ['our client↔our server vs →Go shim', 'our server'],
      ['our client→our shim vs →Go shim', 'our shim'],
    ] as const) {
      rows.push(row(section, `State ${mode}`, 'calls/s', perSec.get(ours) ?? [], perSec.get('Go shim') ?? [], { note: `${perRound * o.rounds} calls in ${o.rounds} alternating rounds` }));
      rows.push(row(section, `State ${mode} p50`, 'µs', pct(ours, 50), pct('Go shim', 50)));
      rows.push(row(section, `State ${mode} p99`, 'µs', pct(ours, 99), pct('Go shim', 99)));
    }
    log(`${mode}: done`);
  }

  const seconds = Math.round((Date.now() - t0) / 1000);
  process.stdout.write(`\nbench:ttrpc ${parsed.quick ? '(quick) ' : ''}${new Date().toISOString()}, ${seconds} s — ${machineLine(machine)}\n`);
  process.stdout.write(`"ours" = our server (its own process) or our shim; "Go" = Go's shim; one client connection per target; ratio = ours/Go\n\n`);
  process.stdout.write(`${markdownTable(rows)}\n\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'ttrpc', quick: parsed.quick, date: new Date().toISOString(), seconds, machine, options: o, results: jsonRows(rows) })}\n`);
}

const cleanup = new Cleanup();
cleanup.onSignals();
main(cleanup)
  .catch((err: unknown) => {
    process.stderr.write(`bench:ttrpc failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup.run());
