/**
 * What an esbuild bundle of dist/shim/main.js and a V8 code cache would save, measured (a
 * measurement tool; the shim is not changed):
 *   - variants (bundle.ts): tsc output as shipped; one bundle (koffi external); the same with winston
 *     external too; that bundle run through cached-loader.ts with a per-process-kind code cache,
 *     trained by a real lifecycle + execs under containerd; Go's shim for reference;
 *   - A: by hand with a fake bundle (lib/hand-shim.ts): `start`, daemon ready after `start` exits,
 *     `delete`, interleaved per iteration;
 *   - B: under a private containerd: `ctr run --rm /bin/true`, interleaved per iteration.
 *
 *   npx tsc -b && node dist/bench/experiments/bundle-cache.js [runs]
 */
process.on('SIGUSR1', () => undefined);

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedRootfs } from '../../test/helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME } from '../../test/helpers/runtimes';
import { Cleanup } from '../lib/cleanup';
import { removeContainers, startContainerd, timedCtr } from '../lib/context';
import { GOS, OURS, type ShimCommand, bundleFor, firstAnswer, removeLeftovers, shimAction, stopDaemon } from '../lib/hand-shim';
import { summarize } from '../lib/stats';
import { buildVariants } from './bundle';
import { f1, installRuntime, table } from './lib';

interface Timed {
  name: string;
  shim: ShimCommand;
  runtime: string;
  start: number[];
  ready: number[];
  del: number[];
  lifecycle: number[];
}

async function main(cleanup: Cleanup): Promise<void> {
  const runs = Number(process.argv[2] ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-bundle-'));
  cleanup.add('remove the bundle dir', () => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'loader.log');
  const variants = buildVariants(dir, log);

  const ct = await startContainerd(cleanup);
  const rootfs = sharedRootfs();
  const list: Timed[] = [
    { name: 'tsc output (as shipped)', shim: OURS, runtime: OUR_RUNTIME, start: [], ready: [], del: [], lifecycle: [] },
    ...variants.map((v, i) => ({ name: v.name, shim: { command: v.exe, prefix: [] }, runtime: installRuntime(ct, `tsvariant${i}`, `#!/bin/sh\nexec ${v.exe} "$@"\n`), start: [], ready: [], del: [], lifecycle: [] })),
    { name: 'Go shim', shim: GOS, runtime: GO_RUNTIME, start: [], ready: [], del: [], lifecycle: [] },
  ];

  // train the code caches: a real lifecycle and execs, each process writes its own kind's cache at exit
  for (const [i, v] of variants.entries()) {
    if (!v.train) continue;
    const runtime = installRuntime(ct, `tstrain${i}`, `#!/bin/sh\nexec ${v.train} "$@"\n`);
    await ct.ctrOk(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, `train${i}`, '/bin/true']);
    const id = `trainx${i}`;
    const drop = cleanup.add(`remove ${id}`, () => removeContainers(ct, [id]));
    await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', rootfs, id, '/bin/sleep', '1000']);
    for (let k = 0; k < 3; k++) await ct.ctrOk(['task', 'exec', '--exec-id', `e${k}`, id, '/bin/true']);
    await removeContainers(ct, [id]);
    drop();
    await new Promise((r) => setTimeout(r, 500));
  }
  const caches = readdirSync(dir).filter((f) => f.startsWith('shim.cache.'));
  process.stderr.write(`code caches: ${caches.map((f) => `${f} (${Math.round(readFileSync(join(dir, f)).length / 1024)} KiB)`).join(', ')}\n`);

  let n = 0;
  const hand = async (t: Timed, record: boolean): Promise<void> => {
    const b = bundleFor(`v${n++}`, `bc${process.pid}`);
    try {
      const s = await shimAction(t.shim, b, 'start');
      if (s.code !== 0) throw new Error(`${t.name}: start exited ${s.code}: ${s.stdout}${s.stderr}`);
      const a = await firstAnswer(b);
      await stopDaemon(b, a.pid);
      const d = await shimAction(t.shim, b, 'delete');
      if (d.code !== 0) throw new Error(`${t.name}: delete exited ${d.code}: ${d.stderr}`);
      if (record) {
        t.start.push(s.ms);
        t.ready.push(a.ms);
        t.del.push(d.ms);
      }
    } finally {
      removeLeftovers(b);
    }
  };
  for (const t of list) await hand(t, false);
  for (let i = 0; i < runs; i++) for (const t of list) await hand(t, true);
  process.stderr.write('hand runs done\n');

  for (const t of list) await timedCtr(ct, ['run', '--rm', '--runtime', t.runtime, '--rootfs', rootfs, `w${n++}`, '/bin/true']);
  for (let i = 0; i < runs; i++) {
    for (const t of list) t.lifecycle.push((await timedCtr(ct, ['run', '--rm', '--runtime', t.runtime, '--rootfs', rootfs, `l${n++}`, '/bin/true'])).ms);
  }

  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('cache=')) : [];
  const cacheStats = ['accepted', 'rejected', 'none'].map((s) => `${s} ${lines.filter((l) => l.includes(`cache=${s}`) && l.includes('xw') === false).length}`);
  const med = (xs: number[]): string => f1(summarize(xs).median);
  const rows = list.map((t) => [t.name, med(t.start), med(t.ready), med(t.start.map((s, i) => s + (t.ready[i] ?? NaN))), med(t.del), med(t.lifecycle)]);
  const sizes = variants.map((v) => `${v.name}: ${Math.round(v.bundleBytes / 1024)} KiB`).join('; ');
  process.stdout.write(
    [
      `### Bundle and code cache (median of ${runs} interleaved runs, ms)`,
      '',
      table(['variant', '`start`', 'ready after `start`', '`start` + ready', '`delete`', 'ctr run --rm /bin/true'], rows),
      '',
      `Bundle sizes: ${sizes}. Code caches: ${caches.map((f) => `${f.split('.')[2]} ${Math.round(readFileSync(join(dir, f)).length / 1024)} KiB`).join(', ')}.`,
      `Loader cache use over the whole run (processes): ${lines.length} lines; ${cacheStats.join(', ')} (kinds: ${['start', 'delete', 'daemon'].map((k) => `${k} accepted ${lines.filter((l) => l.startsWith(k) && l.includes('cache=accepted')).length}`).join(', ')}).`,
      '',
    ].join('\n'),
  );
}

const cleanup = new Cleanup();
cleanup.onSignals();
main(cleanup)
  .catch((err: unknown) => {
    process.stderr.write(`bundle-cache failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup.run());
