/**
 * `node dist/proto/codegen/measure-load.js [runs]` — measures what requiring each generated module
 * costs a fresh Node process, for proto/README.md.
 *
 * Every variant is one `node -e …` run under a clean environment (`env -i PATH=/usr/bin:/bin`, no
 * NODE_OPTIONS or CA bundles); variants are interleaved round-robin so drift in machine load hits all
 * of them alike, and the median wall time of each is reported next to its difference from `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** One measured variant: a label and the script given to `node -e`. */
interface Variant {
  readonly label: string;
  readonly script: string;
}

function variants(distProto: string): Variant[] {
  const req = (p: string): string => `require(${JSON.stringify(p)})`;
  const minimal = require.resolve('protobufjs/minimal');
  return [
    { label: 'node -e 0', script: '0' },
    { label: 'protobufjs/minimal', script: req(minimal) },
    { label: 'long', script: req(require.resolve('long')) },
    { label: 'proto/errdefs.js', script: req(path.join(distProto, 'errdefs.js')) },
    { label: 'proto/time.js', script: req(path.join(distProto, 'time.js')) },
    { label: 'gen/shim.js', script: req(path.join(distProto, 'gen', 'shim.js')) },
    { label: 'gen/services.js', script: req(path.join(distProto, 'gen', 'services.js')) },
    { label: 'proto/index.js', script: req(path.join(distProto, 'index.js')) },
    { label: 'gen/cgroups.js', script: req(path.join(distProto, 'gen', 'cgroups.js')) },
    { label: 'gen/shim.js + cgroups.js', script: `${req(path.join(distProto, 'gen', 'shim.js'))};${req(path.join(distProto, 'gen', 'cgroups.js'))}` },
  ];
}

function timeOnce(script: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/env', ['-i', 'PATH=/usr/bin:/bin', process.execPath, '-e', script], { stdio: 'inherit' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node -e ${script} exited with ${String(r.status)}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Runs the measurement and prints a Markdown table. */
export function measure(runs: number): string {
  const list = variants(path.resolve(__dirname, '..'));
  const samples = list.map(() => [] as number[]);
  for (const v of list) timeOnce(v.script); // warm the page cache
  for (let i = 0; i < runs; i++) list.forEach((v, j) => samples[j]?.push(timeOnce(v.script)));
  const base = median(samples[0] ?? []);
  const rows = list.map((v, j) => {
    const m = median(samples[j] ?? []);
    return `| ${v.label} | ${m.toFixed(1)} | ${j === 0 ? '—' : `+${(m - base).toFixed(1)}`} |`;
  });
  return [`median of ${runs} interleaved runs, wall ms`, '', '| require | median | over `node -e 0` |', '|---|---|---|', ...rows].join('\n');
}

if (require.main === module) {
  process.on('SIGUSR1', () => {});
  process.stdout.write(`${measure(Number(process.argv[2] ?? 25))}\n`);
}
