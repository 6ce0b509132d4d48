/**
 * stdout: a container writing `mib` MiB of zeros to stdout (`sh -c 'head -c BYTES /dev/zero'`),
 * read by `ctr run --rm` whose stdout goes through a pipe to `wc -c` (bash with pipefail, so a
 * failing ctr fails the run). The byte count is checked. Throughput = bytes / wall time of the
 * whole `ctr run` (it includes the lifecycle); "net" subtracts the runtime's median lifecycle.
 *
 * The ceiling row runs the same writer (/bin/busybox, the binary the rootfs holds) into `cat | wc -c`, with no
 * shim, no FIFO and no containerd, in the same rounds: `cat` stands for ctr (it copies in larger
 * chunks, so this is generous). Its ratio to Go's figure is the most any shim could reach on this
 * machine: busybox `head -c` writes 4 KiB at a time and spends ~2.7 s of user CPU per GiB on its own.
 */
import { performance } from 'node:perf_hooks';
import { cleanEnv, run } from '../../test/helpers/containerd';
import { type Row, row } from '../lib/report';
import { type Context, PAIR, type PerRuntime, type Runtime, samples, tag } from '../lib/context';

export async function stdout(ctx: Context, runs: number, mib: number, lifecycleMedian?: PerRuntime<number>): Promise<Row[]> {
  const bytes = Math.round(mib * 1024 * 1024);
  const wall = samples();
  const ceiling: number[] = [];
  const once = async (runtime: Runtime): Promise<number> => {
    const id = ctx.id(`o${tag(runtime)}`);
    const ctr = ['ctr', '--address', ctx.ct.address, '--namespace', ctx.ct.namespace, 'run', '--rm', '--runtime', runtime, '--rootfs', ctx.rootfs, id, '/bin/sh', '-c', `/bin/head -c ${bytes} /dev/zero`];
    const t0 = performance.now();
    const r = await run('bash', ['-c', 'set -o pipefail; "$@" | wc -c', 'bash', ...ctr], { env: cleanEnv(), timeoutMs: 600_000 });
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`stdout run (${runtime}) exited ${r.code}: ${r.stderr.trim()}`);
    const got = Number(r.stdout.trim());
    if (got !== bytes) throw new Error(`stdout run (${runtime}): ctr read ${got} bytes, expected ${bytes}`);
    return ms;
  };
  const bare = async (): Promise<number> => {
    const t0 = performance.now();
    const r = await run('bash', ['-c', `set -o pipefail; /bin/busybox head -c ${bytes} /dev/zero | cat | wc -c`], { env: cleanEnv(), timeoutMs: 600_000 });
    const ms = performance.now() - t0;
    if (r.code !== 0 || Number(r.stdout.trim()) !== bytes) throw new Error(`stdout ceiling run: exit ${r.code}, ${r.stdout.trim()} bytes: ${r.stderr.trim()}`);
    return ms;
  };
  for (let i = 0; i < runs; i++) {
    for (const runtime of PAIR) wall[runtime].push(await once(runtime));
    ceiling.push(await bare());
  }
  ctx.log(`stdout: ${runs} runs each of ${mib} MiB`);
  const mibPerS = (ms: number): number => mib / (ms / 1000);
  const [ours, go] = PAIR;
  const rows = [
    row('stdout', `${mib} MiB through ctr run (whole run)`, 'MiB/s', wall[ours].map(mibPerS), wall[go].map(mibPerS), { goal: { op: '>=', value: 1.5 }, note: 'bytes / wall time of ctr run --rm | wc -c, byte count checked' }),
    row('stdout', `${mib} MiB through ctr run, wall time`, 'ms', wall[ours], wall[go]),
    row('stdout', 'ceiling: head → cat → wc, no shim (vs Go)', 'MiB/s', ceiling.map(mibPerS), wall[go].map(mibPerS), { note: 'the same writer with no shim, FIFO or containerd; ratio = the most any shim could reach' }),
  ];
  if (lifecycleMedian) {
    const net = (runtime: Runtime): number[] => wall[runtime].map((ms) => mibPerS(ms - lifecycleMedian[runtime]));
    rows.push(row('stdout', `${mib} MiB, net of median lifecycle`, 'MiB/s', net(ours), net(go), { note: 'bytes / (wall − the runtime’s median lifecycle)' }));
  }
  return rows;
}
