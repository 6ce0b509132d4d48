/**
 * Stats, Update and OOM events (shim part 2) under a private real containerd + runc, on this
 * cgroup v1 (hybrid) host — for Go's io.containerd.runc.v2 (the reference) and ours:
 *
 * - `ctr task metrics` prints the v1 table (and JSON) with the same columns and plausible values;
 * - Update over ttrpc raises and lowers the memory limit, visible in the cgroup and in Stats;
 * - Stats of a deleted container fails cleanly (NotFound over ttrpc, an error from ctr);
 * - a container hitting its memory limit yields /tasks/oom — for ours always before its /tasks/exit
 *   (10 rounds, to catch the eventfd-vs-SIGCHLD race) — and the OOM eventfd is closed on delete.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRICS_V1_TYPE_URL, OCI_LINUX_RESOURCES_TYPE_URL, packJson, toNumber, unpackAnyAs } from '../../proto';
import { isUnified } from '../../shim/cgroups/join';
import { Containerd, cleanEnv, processesWithArgs } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { connectTask, rpcError } from '../helpers/shim-client';
import { requireSystem, skipBecause, which } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;
/** Allocates (and touches) 64 MiB in one process: busybox awk builds a 64 MiB string. */
const ALLOCATE_64M = ['/bin/awk', 'BEGIN{s=sprintf("%67108864s",""); print length(s)}'];
/** The metric names `ctr task metrics` prints for v1 (PROTOCOL §11.2). */
const V1_COLUMNS = ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.stat.cache', 'cpuacct.usage', 'cpuacct.usage_percpu', 'pids.current', 'pids.limit'];

/** The METRIC/VALUE rows of `ctr task metrics` (table format). */
function metricsTable(out: string): Map<string, string> {
  const rows = new Map<string, string>();
  const lines = out.split('\n');
  const start = lines.findIndex((l) => /^METRIC\s+VALUE/.test(l));
  assert.ok(start > 0, `a METRIC VALUE table in:\n${out}`);
  for (const line of lines.slice(start + 1)) {
    const m = /^(\S+)\s+(.*?)\s*$/.exec(line);
    if (m) rows.set(m[1] ?? '', m[2] ?? '');
  }
  return rows;
}

/** Open eventfds of a process. */
function eventfdCount(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[eventfd]') count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

describe('Stats, Update and OOM events (real containerd + runc, cgroup v1)', function () {
  this.timeout(180_000);
  let ct: Containerd;
  let events: EventWatcher;
  let rootfs: string;
  const jsonMetrics = new Map<string, Record<string, unknown>>();

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc', 'busybox']);
    if (isUnified()) skipBecause(this, 'cgroup v2 unified host: this reads the live v1 hierarchy (v2 is covered on fixture trees)');
    ct = await Containerd.start();
    events = await EventWatcher.start(ct);
    rootfs = sharedRootfs();
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
  });

  const runDetached = (runtime: string, id: string, args: string[], extra: string[] = []) =>
    ct.ctrOk(['run', '-d', '--runtime', runtime, ...extra, '--rootfs', rootfs, id, ...args], { timeoutMs: 30_000 });
  const remove = async (id: string) => {
    await ct.ctr(['task', 'rm', '-f', id]);
    await ct.ctr(['container', 'rm', id]);
  };
  const memoryLimitFile = (id: string) => Number(readFileSync(join('/sys/fs/cgroup/memory', ct.namespace, id, 'memory.limit_in_bytes'), 'utf8'));

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      it('`ctr task metrics` prints the v1 table: the --memory-limit, usage, cache, cpuacct and pids', async () => {
        const id = uniqueId('s');
        await runDetached(runtime, id, ['/bin/sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; /bin/sleep 1000 & wait'], ['--memory-limit', String(64 * MiB)]);
        try {
          await waitFor(async () => (await ct.ctrOk(['task', 'ps', id])).trim().split('\n').length >= 3, { what: 'sh and sleep to run' });
          const rows = metricsTable(await ct.ctrOk(['task', 'metrics', id]));
          assert.deepEqual([...rows.keys()], V1_COLUMNS);
          assert.equal(rows.get('memory.limit_in_bytes'), String(64 * MiB));
          const usage = Number(rows.get('memory.usage_in_bytes'));
          assert.ok(usage > 0 && usage < 64 * MiB, `memory usage ${usage}`);
          assert.ok(Number(rows.get('memory.stat.cache')) >= 0);
          assert.ok(Number(rows.get('cpuacct.usage')) > 0, 'cpu time used');
          const perCpu = /^\[(.*)\]$/.exec(rows.get('cpuacct.usage_percpu') ?? '')?.[1]?.split(' ') ?? [];
          assert.equal(perCpu.length, cpus().length, 'one value per cpu');
          const sum = perCpu.map(Number).reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum - Number(rows.get('cpuacct.usage'))) <= Number(rows.get('cpuacct.usage')) / 100, 'the per-cpu values add up to the total');
          assert.equal(rows.get('pids.current'), '2');
          assert.equal(rows.get('pids.limit'), '0', 'no pids limit ("max") is 0 in v1');

          const json = JSON.parse(await ct.ctrOk(['task', 'metrics', '--format', 'json', id])) as Record<string, Record<string, unknown>>;
          jsonMetrics.set(runtime, json);
          assert.equal((json['memory']?.['usage'] as Record<string, number>)['limit'], 64 * MiB);
          assert.equal(json['memory']?.['hierarchical_memory_limit'], 64 * MiB);
          assert.ok(json['memory_oom_control'], 'memory_oom_control present');
          assert.ok(((json['cpu']?.['usage'] as Record<string, number>)['total'] ?? 0) > 0);
        } finally {
          await remove(id);
        }
      });

      it('Update over ttrpc raises and lowers the memory limit: in the cgroup and in Stats', async () => {
        const id = uniqueId('u');
        await runDetached(runtime, id, ['/bin/sleep', '1000'], ['--memory-limit', String(32 * MiB)]);
        const { task, close } = await connectTask(ct.shimSocket(id));
        try {
          const limitInStats = async () => toNumber(unpackAnyAs((await task.stats({ id })).stats ?? {}, METRICS_V1_TYPE_URL).memory?.usage?.limit);
          assert.equal(await limitInStats(), 32 * MiB);
          for (const limit of [64 * MiB, 48 * MiB]) {
            await task.update({ id, resources: packJson(OCI_LINUX_RESOURCES_TYPE_URL, { memory: { limit } }), annotations: {} });
            assert.equal(memoryLimitFile(id), limit, 'memory.limit_in_bytes');
            assert.equal(await limitInStats(), limit, 'memory.usage.limit in Stats');
          }
          assert.equal(metricsTable(await ct.ctrOk(['task', 'metrics', id])).get('memory.limit_in_bytes'), String(48 * MiB));
        } finally {
          await close();
          await remove(id);
        }
      });

      it('Stats of a deleted container fails cleanly: NotFound over ttrpc, an error from ctr; its group mate still has stats', async () => {
        const group = uniqueId('g');
        const [gone, mate] = [uniqueId('d'), uniqueId('m')];
        for (const id of [gone, mate]) await runDetached(runtime, id, ['/bin/sleep', '1000'], ['--label', `io.containerd.runc.v2.group=${group}`]);
        const { task, close } = await connectTask(ct.shimSocket(group));
        try {
          assert.equal((await task.stats({ id: gone })).stats?.typeUrl, METRICS_V1_TYPE_URL);
          await remove(gone);
          const err = await rpcError(() => task.stats({ id: gone }));
          assert.equal(err.code, 5, `NotFound, got ${err.code} ${err.message}`);
          assert.match(err.message, /not found/);
          const viaCtr = await ct.ctr(['task', 'metrics', gone]);
          assert.notEqual(viaCtr.code, 0);
          assert.match(viaCtr.stderr, /not found/);
          assert.equal((await task.stats({ id: mate })).stats?.typeUrl, METRICS_V1_TYPE_URL);
        } finally {
          await close();
          await remove(mate);
        }
      });
    });
  }

  describe('both runtimes', () => {
    it('report the same metric groups (`ctr task metrics --format json`)', function () {
      assert.equal(jsonMetrics.size, 2, 'the metrics tests above recorded both runtimes’ metrics');
      const keys = (runtime: string) => Object.keys(jsonMetrics.get(runtime) ?? {}).sort();
      assert.deepEqual(keys(OUR_RUNTIME), keys(GO_RUNTIME));
      const usageKeys = (runtime: string) => Object.keys((jsonMetrics.get(runtime)?.['memory'] as Record<string, unknown>)['usage'] as object).sort();
      assert.deepEqual(usageKeys(OUR_RUNTIME), usageKeys(GO_RUNTIME));
    });
  });

  describe('OOM', () => {
    /** Runs the 64 MiB allocation under a 16 MiB limit and returns the container's task events once deleted. */
    const oomRun = async (runtime: string): Promise<{ id: string; code: number; topics: string[]; exitStatus: unknown }> => {
      const id = uniqueId('o');
      const r = await ct.ctr(['run', '--rm', '--runtime', runtime, '--memory-limit', String(16 * MiB), '--rootfs', rootfs, id, ...ALLOCATE_64M], { timeoutMs: 60_000 });
      await events.until((all) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id), `the delete event of ${id}`);
      const seen = events.forContainer(id);
      return { id, code: r.code, topics: seen.map((e) => e.topic), exitStatus: seen.find((e) => e.topic === '/tasks/exit')?.event['exit_status'] };
    };

    it('Go runc.v2 (reference) publishes /tasks/oom for a container OOM-killed at its limit', async function () {
      // Go's shim is the reference, not the subject: this failed once in ~20 runs of the file here
      // (2026-11-24; the output did not say which assertion). Two more tries, as Go's other flaky rows.
      this.retries(2);
      const { code, topics } = await oomRun(GO_RUNTIME);
      assert.equal(code, 137, `Go's shim: ${topics.join(' ')}`);
      assert.ok(topics.includes('/tasks/oom'), topics.join(' '));
    });

    it('tsrunc publishes /tasks/oom before the /tasks/exit of the OOM-killed container, in 10 of 10 rounds', async () => {
      for (let round = 0; round < 10; round++) {
        const { id, code, topics, exitStatus } = await oomRun(OUR_RUNTIME);
        assert.equal(code, 137, `${id}: killed`);
        assert.equal(exitStatus, 137);
        const oom = topics.indexOf('/tasks/oom');
        assert.ok(oom >= 0, `round ${round} (${id}): no /tasks/oom in ${topics.join(' ')}`);
        assert.ok(oom < topics.indexOf('/tasks/exit'), `round ${round} (${id}): oom after exit in ${topics.join(' ')}`);
        assert.deepEqual(topics.slice(0, 2), ['/tasks/create', '/tasks/start']);
        assert.equal(topics.at(-1), '/tasks/delete');
      }
    });

    it('tsrunc closes a container’s OOM eventfd when it is deleted (a grouped shim keeps its count)', async () => {
      const group = uniqueId('g');
      const [keeper, member] = [uniqueId('k'), uniqueId('m')];
      const inGroup = ['--label', `io.containerd.runc.v2.group=${group}`, '--memory-limit', String(64 * MiB)];
      await runDetached(OUR_RUNTIME, keeper, ['/bin/sleep', '1000'], inGroup);
      try {
        const [shim] = processesWithArgs(['-address', ct.address]).filter((p) => processesWithArgs(['-id', keeper]).includes(p));
        assert.ok(shim, 'the group shim');
        const baseline = eventfdCount(shim);
        for (let i = 0; i < 3; i++) {
          await runDetached(OUR_RUNTIME, member, ['/bin/sleep', '1000'], inGroup);
          assert.equal(eventfdCount(shim), baseline + 1, 'one eventfd for the new container');
          await remove(member);
          await waitFor(() => eventfdCount(shim) === baseline, { what: 'the eventfd to be closed' });
        }
      } finally {
        await remove(keeper);
      }
    });
  });
});

describe('OOM during `runc start` (real containerd, a runc that lingers after start)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let events: EventWatcher;
  let dir: string;

  // The container dies of its limit at once; a runc on PATH that stays 300 ms after `runc start`
  // makes sure the OOM is seen while Start still waits for runc — what happened once in CI, where
  // /tasks/oom came before /tasks/start.
  before(async function () {
    // no cgroup-version skip: the shim watches v2's memory.events as it watches v1's eventfd
    requireSystem(this, ['containerd', 'ctr', 'runc', 'busybox']);
    dir = mkdtempSync(join(tmpdir(), 'tsrunc-slow-runc-'));
    const realRunc = which('runc') ?? 'runc';
    writeFileSync(join(dir, 'runc'), `#!/bin/sh\n${realRunc} "$@"\nrc=$?\nfor a in "$@"; do [ "$a" = start ] && sleep 0.3; done\nexit $rc\n`, { mode: 0o755 });
    ct = await Containerd.start({ env: { PATH: `${dir}:${cleanEnv()['PATH'] ?? ''}` } });
    events = await EventWatcher.start(ct);
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tsrunc publishes /tasks/start, then /tasks/oom, then /tasks/exit', async () => {
    const id = uniqueId('s');
    const r = await ct.ctr(['run', '--rm', '--runtime', OUR_RUNTIME, '--memory-limit', String(16 * MiB), '--rootfs', sharedRootfs(), id, ...ALLOCATE_64M], { timeoutMs: 60_000 });
    assert.equal(r.code, 137, r.stderr);
    await events.until((all) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id), `the delete event of ${id}`);
    assert.deepEqual(
      events.forContainer(id).map((e) => e.topic),
      ['/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit', '/tasks/delete'],
    );
  });
});
