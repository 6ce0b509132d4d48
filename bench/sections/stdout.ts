/**
 * stdout: a container writing `mib` MiB of zeros to its stdout, read by `ctr run --rm` whose stdout
 * goes through a pipe to `wc -c` (bash with pipefail, so a failing ctr fails the run). The byte count
 * is checked. Throughput = bytes / wall time of the whole `ctr run` (it includes the lifecycle); "net"
 * subtracts the runtime's median lifecycle.
 *
 * Two writers, both busybox (the binary the rootfs holds), in the same rounds:
 *   bulk  — `dd if=/dev/zero bs=64K`: 64 KiB writes, ~0.1 s of CPU per 512 MiB, so what is measured
 *           is the path after the container: the shim, the FIFO and ctr. The goal row.
 *   small — `head -c`: 4 KiB writes from a getc/putc loop, ~1.3 s of user CPU per 512 MiB even into
 *           /dev/null. This writer is the bound (it was the only writer before e462a8f, ~21:00 UTC),
 *           so its row shows how both shims do behind a slow, chatty writer, not what a shim can move.
 *
 * Each writer has a ceiling row: the same command into `cat | wc -c`, with no shim, no FIFO and no
 * containerd — a reference: the same writer through one user-space copy (`cat` stands for ctr). A
 * shim that splices can come out above it; behind `head` it bounds every shim.
 *
 * Rounds alternate which runtime goes first (AB BA …), as the exec section does.
 */
import { performance } from 'node:perf_hooks';
import { cleanEnv, run } from '../../test/helpers/containerd';
import { type Row, row } from '../lib/report';
import { type Context, PAIR, type PerRuntime, type Runtime, samples, tag } from '../lib/context';

/** Bytes per write of the bulk writer: --stdout-mib must be a multiple of it. */
export const BULK_BLOCK = 64 * 1024;

interface Writer {
  name: 'bulk' | 'small';
  /** What the writer's rows call it. */
  label: string;
  /** The command, run by `sh -c` in the container and by bash for the ceiling (`busybox` prefix there). */
  command: (bytes: number, busybox: string) => string;
}

const WRITERS: readonly Writer[] = [
  // dd's record counts go to stderr, which the run shows only if it fails
  { name: 'bulk', label: '64 KiB writes (dd)', command: (bytes, bb) => `${bb}dd if=/dev/zero bs=${BULK_BLOCK} count=${bytes / BULK_BLOCK}` },
  { name: 'small', label: '4 KiB writes (head -c)', command: (bytes, bb) => `${bb}head -c ${bytes} /dev/zero` },
];

export async function stdout(ctx: Context, runs: number, mib: number, lifecycleMedian?: PerRuntime<number>): Promise<Row[]> {
  const bytes = Math.round(mib * 1024 * 1024);
  if (bytes <= 0 || bytes % BULK_BLOCK !== 0) throw new Error(`--stdout-mib ${mib}: must be a positive multiple of 1/16 MiB (the bulk writer's 64 KiB block)`);
  const wall = { bulk: samples(), small: samples() };
  const ceiling: Record<Writer['name'], number[]> = { bulk: [], small: [] };

  const once = async (runtime: Runtime, writer: Writer): Promise<number> => {
    const id = ctx.id(`o${writer.name[0]}${tag(runtime)}`);
    const ctr = ['ctr', '--address', ctx.ct.address, '--namespace', ctx.ct.namespace, 'run', '--rm', '--runtime', runtime, '--rootfs', ctx.rootfs, id, '/bin/sh', '-c', writer.command(bytes, '/bin/')];
    const t0 = performance.now();
    const r = await run('bash', ['-c', 'set -o pipefail; "$@" | wc -c', 'bash', ...ctr], { env: cleanEnv(), timeoutMs: 600_000 });
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`stdout run (${runtime}, ${writer.name}) exited ${r.code}: ${r.stderr.trim()}`);
    const got = Number(r.stdout.trim());
    if (got !== bytes) throw new Error(`stdout run (${runtime}, ${writer.name}): ctr read ${got} bytes, expected ${bytes}`);
    return ms;
  };
  const bare = async (writer: Writer): Promise<number> => {
    const t0 = performance.now();
    const r = await run('bash', ['-c', `set -o pipefail; ${writer.command(bytes, '/bin/busybox ')} | cat | wc -c`], { env: cleanEnv(), timeoutMs: 600_000 });
    const ms = performance.now() - t0;
    if (r.code !== 0 || Number(r.stdout.trim()) !== bytes) throw new Error(`stdout ceiling run (${writer.name}): exit ${r.code}, ${r.stdout.trim()} bytes: ${r.stderr.trim()}`);
    return ms;
  };
  for (let i = 0; i < runs; i++) {
    for (const writer of WRITERS) {
      for (const runtime of i % 2 === 0 ? PAIR : [...PAIR].reverse()) wall[writer.name][runtime].push(await once(runtime, writer));
      ceiling[writer.name].push(await bare(writer));
    }
  }
  ctx.log(`stdout: ${runs} runs each of ${mib} MiB per writer`);

  const mibPerS = (ms: number): number => mib / (ms / 1000);
  const [ours, go] = PAIR;
  const rows: Row[] = [];
  for (const writer of WRITERS) {
    const w = wall[writer.name];
    const bulk = writer.name === 'bulk';
    rows.push(
      row('stdout', `${mib} MiB in ${writer.label} through ctr run (whole run)`, 'MiB/s', w[ours].map(mibPerS), w[go].map(mibPerS), {
        ...(bulk ? { goal: { op: '>=' as const, value: 1.5 } } : {}),
        note: `bytes / wall time of ctr run --rm | wc -c, byte count checked${bulk ? '' : '; the writer is the bound'}`,
      }),
      row('stdout', `${mib} MiB in ${writer.label}, wall time`, 'ms', w[ours], w[go]),
      row('stdout', `ceiling, ${writer.label}: → cat → wc, no shim (vs Go)`, 'MiB/s', ceiling[writer.name].map(mibPerS), w[go].map(mibPerS), { note: 'the same writer with no shim, FIFO or containerd' }),
    );
    if (bulk && lifecycleMedian) {
      const net = (runtime: Runtime): number[] => w[runtime].map((ms) => mibPerS(ms - lifecycleMedian[runtime]));
      rows.push(row('stdout', `${mib} MiB in ${writer.label}, net of median lifecycle`, 'MiB/s', net(ours), net(go), { note: 'bytes / (wall − the runtime’s median lifecycle)' }));
    }
  }
  return rows;
}
