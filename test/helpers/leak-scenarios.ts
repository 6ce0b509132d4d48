/**
 * Leak scenarios shared by the e2e suite (short counts, `npm test`) and the soak (full counts,
 * `npm run soak`). Each runs a workload against a private containerd with our shim, asserts that
 * what it measures came back where it started, and returns the figures:
 *  - exec cycles (Exec/Start/Wait/Delete over ttrpc, stdio alternating null / FIFOs / file://):
 *    the shim's fds, unix sockets, files under the bundle, runc state and temp files; RSS flat;
 *  - container cycles through `ctr run --rm`, grouped (one shim lives through all of them, so its
 *    fds and RSS can be tracked) or not (each cycle its own shim): nothing left of any cycle —
 *    no shim process, socket, mount, bundle, runc state, cgroup;
 *  - an orphan-spawning workload: zero zombies whose parent is one of this containerd's shims
 *    (PID 1 of these VMs reaps its own only after ~2 s: counted by parent).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCI_PROCESS_TYPE_URL, packJson } from '../../proto';
import { type Containerd, mountsUnder } from './containerd';
import { buildImage } from './image';
import { processTable, zombiesOf } from './proc';
import { sharedRootfs } from './rootfs';
import { OUR_RUNTIME, uniqueId } from './runtimes';
import { type TaskClient, connectTask } from './shim-client';
import { exited, fdCount, listDir, rssKiB, rssTrend, snapshotTree, unixSocketsOf } from './shim-metrics';
import { waitFor } from './wait';

/** What a scenario measured. */
export interface LeakFigures {
  cycles: number;
  ms: number;
  fds?: { before: number; after: number };
  unixSockets?: { before: number; after: number };
  rssKiB?: { first: number; secondQuarterMean: number; lastQuarterMean: number; max: number; growthKiB: number; limitKiB: number };
  /** Floors of the daemon's live JS heap (from SIGUSR1 reports), reported, not asserted: see heapSummary. */
  liveHeapKiB?: { secondQuarterFloor: number; lastQuarterFloor: number; samples: number };
  [key: string]: unknown;
}

/**
 * RSS after warm-up must not trend up beyond a noise band: V8 sizes its heap to the allocation
 * rate and returns memory lazily, so RSS moves in steps (measured: an exec loop plateaus at ~96 MiB
 * after ~2000 cycles, from ~56 MiB idle) — the band is max(16 MiB, 20 %).
 */
export function rssSummary(samples: number[]): NonNullable<LeakFigures['rssKiB']> {
  const t = rssTrend(samples, 16 * 1024, 0.2);
  assert.ok(t.flat, `RSS trends up after warm-up: 2nd-quarter mean ${t.second} KiB, last-quarter mean ${t.last} KiB (+${t.growthKiB} KiB > ${t.limitKiB} KiB)`);
  return { first: samples[0] ?? 0, secondQuarterMean: t.second, lastQuarterMean: t.last, max: Math.max(...samples), growthKiB: t.growthKiB, limitKiB: t.limitKiB };
}

/**
 * The daemon's live JS heap, read from the diagnostic report its SIGUSR1 handler writes (the log
 * line naming the file reaches containerd's log). Garbage counts until the next major GC, so a
 * leak shows as a rising FLOOR of these samples, not as single values.
 */
export async function liveHeapKiB(ct: Containerd, pid: number): Promise<number> {
  const offset = readFileSync(ct.log, 'utf8').length;
  process.kill(pid, 'SIGUSR1');
  const path = await waitFor(() => /msg="diagnostic report \(SIGUSR1\)".* report=(\S+)/.exec(readFileSync(ct.log, 'utf8').slice(offset))?.[1], { what: 'the SIGUSR1 report', intervalMs: 5 });
  try {
    const report = JSON.parse(readFileSync(path, 'utf8')) as { javascriptHeap?: { usedMemory?: number } };
    return Math.round((report.javascriptHeap?.usedMemory ?? 0) / 1024);
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * The floors (minimums) of the live-heap samples in the 2nd and last quarters, for the figures.
 * Not asserted: between two major GCs the floor of a short window still holds garbage (measured:
 * 8–17 MiB floors over 250-cycle windows of a loop whose post-GC heap stays at ~10 MiB), so only
 * RSS, the measure, is a pass/fail check; the floors show whether RSS growth is V8 sizing.
 */
export function heapSummary(samples: number[]): NonNullable<LeakFigures['liveHeapKiB']> {
  const q = Math.max(1, Math.floor(samples.length / 4));
  return { secondQuarterFloor: Math.min(...samples.slice(q, 2 * q)), lastQuarterFloor: Math.min(...samples.slice(samples.length - q)), samples: samples.length };
}

/** Paths under `dir` (recursive), as a sorted list; files whose content changes (logs) still count once. */
function tree(dir: string): string[] {
  return [...snapshotTree(dir).keys()].sort();
}

/** runc exec process specs in the temp dir, where go-runc writes them (ours go in the bundle, which the bundle check covers): none may be left. */
function runcProcessFiles(): string[] {
  return listDir(process.env['XDG_RUNTIME_DIR'] || tmpdir()).filter((f) => f.startsWith('runc-process'));
}

const PROCESS = { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin'] };

/** Reads a FIFO the way a client does, without blocking a thread. */
function readFifo(path: string): { text: () => string; ended: Promise<void>; close: () => void } {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let text = '';
  socket.setEncoding('utf8').on('data', (s: string) => (text += s));
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', () => resolve());
  });
  socket.on('error', () => undefined);
  return { text: () => text, ended, close: () => socket.destroy() };
}

/** One exec through ttrpc: Exec, Start, Wait, Delete; stdio by `mode`; checks output and status. */
async function oneExec(task: TaskClient, id: string, execId: string, n: number, mode: 'null' | 'fifo' | 'file', scratch: string): Promise<void> {
  const spec = packJson(OCI_PROCESS_TYPE_URL, { ...PROCESS, args: ['/bin/sh', '-c', `echo out${n}; echo err${n} >&2; exit ${n % 7}`] });
  let stdout = '';
  let stderr = '';
  let readers: ReturnType<typeof readFifo>[] = [];
  const file = join(scratch, `${execId}.log`);
  if (mode === 'fifo') {
    stdout = join(scratch, `${execId}-stdout`);
    stderr = join(scratch, `${execId}-stderr`);
    execFileSync('mkfifo', ['-m', '0600', stdout, stderr]);
    readers = [readFifo(stdout), readFifo(stderr)];
  } else if (mode === 'file') {
    stdout = `file://${file}`;
    stderr = stdout;
  }
  try {
    await task.exec({ id, execId, terminal: false, stdin: '', stdout, stderr, spec });
    await task.start({ id, execId });
    const waited = await task.wait({ id, execId });
    assert.equal(waited.exitStatus, n % 7, `exec ${execId}: exit status`);
    await task.delete({ id, execId });
    if (mode === 'fifo') {
      await Promise.all(readers.map((r) => r.ended));
      assert.equal(readers[0]?.text(), `out${n}\n`);
      assert.equal(readers[1]?.text(), `err${n}\n`);
    } else if (mode === 'file') {
      // the shim's appends may land a moment after Delete returns (a file has no EOF to wait for)
      const lines = (): string => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').sort().join('\n') : '');
      await waitFor(() => lines() === ['', `err${n}`, `out${n}`].join('\n'), { what: `both lines of exec ${execId} in its file:// log (${JSON.stringify(lines())})`, timeoutMs: 2000, intervalMs: 2 });
    }
  } finally {
    for (const r of readers) r.close();
    rmSync(stdout.startsWith('/') ? stdout : '/nonexistent', { force: true });
    rmSync(stderr.startsWith('/') ? stderr : '/nonexistent', { force: true });
    rmSync(file, { force: true });
  }
}

/**
 * `n` exec cycles in a running container of ours (the first tenth is warm-up), stdio alternating
 * null / FIFO / file://. Asserts fds, unix sockets, bundle files, runc state and temp files are back
 * where they started and RSS is flat.
 */
export async function execCycles(ct: Containerd, n: number, warmUp = Math.max(10, Math.floor(n / 10))): Promise<LeakFigures> {
  const id = uniqueId('lx');
  await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000000']);
  const scratch = mkdtempSync('/tmp/tsrunc-leak-');
  const { task, close } = await connectTask(ct.shimSocket(id));
  const started = Date.now();
  try {
    const { shimPid } = await task.connect({ id });
    const modes = ['null', 'fifo', 'file'] as const;
    for (let i = 0; i < warmUp; i++) await oneExec(task, id, `w${i}`, i, modes[i % 3] ?? 'null', scratch);
    const before = {
      fds: fdCount(shimPid),
      sockets: unixSocketsOf(shimPid).length,
      bundle: tree(ct.bundle(id)),
      runc: tree(join('/run/containerd/runc', ct.namespace)),
      tmp: runcProcessFiles(),
    };
    const rss: number[] = [];
    const heap: number[] = [];
    const every = Math.max(10, Math.floor(n / 30));
    for (let i = 0; i < n; i++) {
      await oneExec(task, id, `c${i}`, i, modes[i % 3] ?? 'null', scratch);
      rss.push(rssKiB(shimPid));
      if (i % every === 0) heap.push(await liveHeapKiB(ct, shimPid));
    }
    await waitFor(() => fdCount(shimPid) <= before.fds, { what: `the shim's fds to return to ${before.fds} (now ${fdCount(shimPid)})`, timeoutMs: 5000 });
    const after = { fds: fdCount(shimPid), sockets: unixSocketsOf(shimPid).length };
    assert.equal(after.sockets, before.sockets, 'unix sockets of the shim');
    assert.deepEqual(tree(ct.bundle(id)), before.bundle, 'files under the bundle');
    assert.deepEqual(tree(join('/run/containerd/runc', ct.namespace)), before.runc, 'runc state files');
    assert.deepEqual(runcProcessFiles(), before.tmp, 'runc process spec temp files');
    assert.deepEqual(zombiesOf(shimPid), [], 'no zombie of the shim');
    assert.equal((await task.state({ id, execId: '' })).status, 2, 'the container runs on');
    return { cycles: n, ms: Date.now() - started, fds: { before: before.fds, after: after.fds }, unixSockets: { before: before.sockets, after: after.sockets }, rssKiB: rssSummary(rss), liveHeapKiB: heapSummary(heap), warmUp };
  } finally {
    await close();
    await ct.ctr(['task', 'rm', '-f', id]);
    await ct.ctr(['container', 'rm', id]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Everything of this containerd that a finished container could leave behind. */
function leftovers(ct: Containerd, keep: readonly string[]): Record<string, string[]> {
  const taskDirs = (root: string): string[] => listDir(join(root, 'io.containerd.runtime.v2.task', ct.namespace)).filter((e) => !keep.includes(e));
  const cgroups = listDir('/sys/fs/cgroup').flatMap((h) => listDir(join('/sys/fs/cgroup', h, ct.namespace)).filter((e) => !e.includes('.') && existsSync(join('/sys/fs/cgroup', h, ct.namespace, e, 'cgroup.procs'))));
  return {
    bundles: taskDirs(ct.state),
    workDirs: taskDirs(ct.root),
    runcState: listDir(join('/run/containerd/runc', ct.namespace)).filter((e) => !keep.includes(e)),
    cgroups: [...new Set(cgroups)].filter((e) => !keep.includes(e)),
    mounts: mountsUnder(ct.dir).filter((m) => !keep.some((k) => m.includes(`/${k}/`) || m.endsWith(`/${k}`))),
  };
}

/**
 * `n` container cycles (`ctr run --rm … /bin/sh -c 'echo …'`), all in one group beside a keeper
 * container (`grouped`: the shim lives through every cycle) or each with its own shim. Asserts that
 * no cycle left anything and, when grouped, that the shim's fds and sockets are back and RSS is flat.
 */
export async function containerCycles(ct: Containerd, n: number, grouped: boolean, warmUp = grouped ? Math.max(5, Math.floor(n / 10)) : 0): Promise<LeakFigures> {
  const image = await ensureImage(ct);
  const group = uniqueId('lg');
  const keeper = uniqueId('lk');
  const label = grouped ? ['--label', `io.containerd.runc.v2.group=${group}`] : [];
  await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, ...label, '--rootfs', sharedRootfs(), keeper, '/bin/sleep', '1000000']);
  const started = Date.now();
  const ids: string[] = [];
  try {
    const { task, close } = await connectTask(ct.shimSocket(grouped ? group : keeper));
    const { shimPid } = await task.connect({ id: keeper });
    await close();
    const shimsBefore = ct.shimPids().sort();
    const mountsBefore = mountsUnder(ct.dir).length;
    const fifoDirsBefore = listDir(ct.fifoDir).length;
    const cycle = async (i: number): Promise<void> => {
      const id = uniqueId('lc');
      ids.push(id);
      // from an image: each cycle mounts a snapshot on its bundle's rootfs, which must be unmounted
      const r = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, ...label, image, id, '/bin/sh', '-c', `echo cycle ${i}`]);
      assert.equal(r.code, 0, `cycle ${i}: ${r.stderr}`);
      assert.equal(r.stdout, `cycle ${i}\n`);
    };
    for (let i = 0; i < warmUp; i++) await cycle(-1 - i);
    const before = grouped ? { fds: fdCount(shimPid), sockets: unixSocketsOf(shimPid).length } : undefined;
    const rss: number[] = [];
    const heap: number[] = [];
    const every = Math.max(2, Math.floor(n / 40));
    for (let i = 0; i < n; i++) {
      await cycle(i);
      if (!grouped) continue;
      rss.push(rssKiB(shimPid));
      if (i % every === 0) heap.push(await liveHeapKiB(ct, shimPid));
    }
    // every ungrouped shim is gone, its socket too; the keeper's shim is the only one left
    await waitFor(() => ct.shimPids().sort().join() === shimsBefore.join(), { what: `only the keeper's shim to remain (${ct.shimPids().join()} vs ${shimsBefore.join()})`, timeoutMs: 10_000 });
    for (const id of ids) assert.equal(existsSync(ct.shimSocket(id)), false, `no socket left for ${id}`);
    await waitFor(() => Object.values(leftovers(ct, [keeper])).every((l) => l.length === 0), { what: `nothing left of the cycles: ${JSON.stringify(leftovers(ct, [keeper]))}`, timeoutMs: 10_000 });
    const zombies = ct.shimPids().flatMap((p) => zombiesOf(p));
    assert.deepEqual(zombies, [], 'no zombie whose parent is a shim');
    const figures: LeakFigures = {
      cycles: n,
      ms: Date.now() - started,
      shims: ct.shimPids().length,
      mounts: { before: mountsBefore, after: mountsUnder(ct.dir).length },
      // ctr's own FIFO dirs, in this containerd's --fifo-dir: ctr removes each after a successful Delete
      ctrFifoDirs: { before: fifoDirsBefore, after: listDir(ct.fifoDir).length },
    };
    assert.equal(listDir(ct.fifoDir).length, fifoDirsBefore, 'no FIFO directory of a cycle left');
    assert.equal(mountsUnder(ct.dir).length, mountsBefore, 'no snapshot mount left');
    if (grouped && before) {
      await waitFor(() => fdCount(shimPid) <= before.fds, { what: `the group shim's fds to return to ${before.fds} (now ${fdCount(shimPid)})`, timeoutMs: 5000 });
      const sockets = unixSocketsOf(shimPid).length;
      assert.equal(sockets, before.sockets, 'unix sockets of the group shim');
      figures.fds = { before: before.fds, after: fdCount(shimPid) };
      figures.unixSockets = { before: before.sockets, after: sockets };
      figures.rssKiB = rssSummary(rss);
      figures.liveHeapKiB = heapSummary(heap);
      figures.warmUp = warmUp;
    }
    assert.ok(!exited(shimPid), 'the keeper’s shim lives on');
    return figures;
  } finally {
    await ct.ctr(['task', 'rm', '-f', keeper]);
    await ct.ctr(['container', 'rm', keeper]);
    for (const id of ids) await ct.ctr(['container', 'rm', id]);
  }
}

const IMAGE = 'docker.io/library/tsrunc-leak:1';
const imported = new WeakSet<Containerd>();

/** Imports a busybox image into `ct` once (snapshot mounts make the mount checks meaningful). */
export async function ensureImage(ct: Containerd): Promise<string> {
  if (imported.has(ct)) return IMAGE;
  const dir = mkdtempSync('/tmp/tsrunc-image-');
  try {
    await ct.ctrOk(['images', 'import', buildImage({ name: IMAGE, rootfs: sharedRootfs(), cmd: ['/bin/sh'] }, join(dir, 'image.tar'))]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  imported.add(ct);
  return IMAGE;
}

/**
 * A workload that makes orphans the shim must reap: a container in the host pid namespace (its
 * orphans re-parent to the shim, the nearest subreaper) running `rounds` rounds of
 * `sh -c "sleep 0.0N & exit 0"`, plus execs that orphan a child each. Zombies are counted by parent
 * (every shim of this containerd), sampled throughout; at the end there must be none.
 */
export async function orphanWorkload(ct: Containerd, rounds: number): Promise<LeakFigures> {
  const id = uniqueId('lo');
  const started = Date.now();
  // /proc/1/ns/pid is not readable on these VMs; the test process is in the host pid namespace
  const hostPidNs = ['--with-ns', `pid:/proc/${process.pid}/ns/pid`];
  await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, ...hostPidNs, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', `i=0; while [ $i -lt ${rounds} ]; do sh -c "usleep 20000 & usleep 10000 & exit 0"; i=$((i+1)); done; exec sleep 1000000`]);
  const { task, close } = await connectTask(ct.shimSocket(id));
  try {
    const { shimPid, taskPid } = await task.connect({ id });
    let maxZombies = 0;
    let samples = 0;
    const sample = (): void => {
      samples++;
      maxZombies = Math.max(maxZombies, ct.shimPids().reduce((sum, p) => sum + zombiesOf(p).length, 0));
    };
    const spec = packJson(OCI_PROCESS_TYPE_URL, { ...PROCESS, args: ['/bin/sh', '-c', 'usleep 30000 & exit 0'] });
    const execs = Math.max(5, Math.floor(rounds / 20));
    for (let i = 0; i < execs; i++) {
      await task.exec({ id, execId: `o${i}`, terminal: false, stdin: '', stdout: '', stderr: '', spec });
      await task.start({ id, execId: `o${i}` });
      await task.wait({ id, execId: `o${i}` });
      await task.delete({ id, execId: `o${i}` });
      sample();
    }
    // the loop is done when the init has exec'd its final sleep; then every orphan must be reaped
    await waitFor(
      () => {
        sample();
        const done = readFileSync(`/proc/${taskPid}/comm`, 'utf8').trim() === 'sleep';
        const orphans = processTable().filter(([p, , ppid]) => ppid === shimPid && p !== taskPid);
        return done && orphans.length === 0;
      },
      { what: 'the orphan rounds to finish and every orphan to be reaped', timeoutMs: 120_000, intervalMs: 10 },
    );
    const zombies = ct.shimPids().flatMap((p) => zombiesOf(p));
    assert.deepEqual(zombies, [], 'zero zombies whose parent is a shim');
    return { cycles: rounds, ms: Date.now() - started, execs, zombieSamples: samples, maxTransientZombies: maxZombies };
  } finally {
    await close();
    await ct.ctr(['task', 'rm', '-f', id]);
    await ct.ctr(['container', 'rm', id]);
  }
}
