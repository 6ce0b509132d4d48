/**
 * `tsrunc` resources end to end (real runc, cgroup v1): `run --memory/--cpus/--pids-limit` in the
 * container's cgroup files, `update` of a running container through the shim's Update, `stats` from
 * the shim's Stats (cgroup v1 metrics), `pause`/`resume` — for our shim and Go's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label } from '../helpers/runtimes';
import { Supervisor, TSRUNC } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** One line of `stats --json`. */
interface StatsJson {
  id: string;
  name: string;
  cpuPercent: number;
  memoryUsage: number;
  memoryLimit: number;
  memoryPercent: number;
  pidsCurrent: number;
  pidsLimit: number | null;
}

const MiB = 1024 * 1024;

describe('tsrunc resources: limits, update, stats, pause (daemon + CLI, real runc)', function () {
  this.timeout(90_000);
  let sv: Supervisor;
  let rootfs: string;
  let n = 0;

  before(async function () {
    requireSystem(this, ['runc', 'containerd-shim-runc-v2', 'busybox']);
    rootfs = sharedRootfs();
    sv = new Supervisor();
    await sv.startDaemon();
  });
  after(async () => {
    await sv?.cleanup();
  });

  /** A cgroup v1 file of a container of this daemon. */
  const cgroupFile = (controller: string, id: string, file: string): string => readFileSync(join('/sys/fs/cgroup', controller, 'tsrunc', sv.namespace, id, file), 'utf8').trim();

  const statsJson = async (...refs: string[]): Promise<StatsJson[]> =>
    (await sv.ok(['stats', '--no-stream', '--json', ...refs]))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as StatsJson);

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
      const name = (): string => `${runtime === GO_RUNTIME ? 'rgo' : 'rts'}${++n}`;

      it('run --memory --cpus --pids-limit set memory.limit_in_bytes, cpu.cfs_quota_us and pids.max; inspect and stats --json show them', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--memory', '64m', '--cpus', '0.5', '--pids-limit', '50', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
        const c = (await sv.inspect(nm)) as unknown as { id: string; resources: Record<string, number | null> };
        assert.deepEqual(c.resources, { memory: 64 * MiB, nanoCpus: 500_000_000, pidsLimit: 50 });
        assert.equal(cgroupFile('memory', c.id, 'memory.limit_in_bytes'), String(64 * MiB));
        assert.equal(cgroupFile('cpu', c.id, 'cpu.cfs_period_us'), '100000');
        assert.equal(cgroupFile('cpu', c.id, 'cpu.cfs_quota_us'), '50000');
        assert.equal(cgroupFile('pids', c.id, 'pids.max'), '50');
        // the pids figure comes from the shim's cgroup v1 metrics: sh and its two sleeps
        await waitFor(async () => (await statsJson(nm))[0]?.pidsCurrent === 3, { timeoutMs: 20_000, what: 'three pids in stats' });
        const [s] = await statsJson(nm);
        assert.equal(s?.id, c.id);
        assert.equal(s?.name, nm);
        assert.equal(s?.memoryLimit, 64 * MiB);
        assert.equal(s?.pidsLimit, 50);
        assert.ok((s?.memoryUsage ?? 0) > 0 && (s?.memoryUsage ?? 0) < 64 * MiB, `memory usage ${s?.memoryUsage}`);
        assert.ok(Math.abs((s?.memoryPercent ?? 0) - ((s?.memoryUsage ?? 0) / (64 * MiB)) * 100) < 0.01);
        const table = await sv.ok(['stats', '--no-stream', nm]);
        assert.match(table.split('\n')[0] ?? '', /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+PIDS$/);
        assert.match(table.split('\n')[1] ?? '', new RegExp(`^${c.id}\\s+${nm}\\s+\\d+\\.\\d\\d%\\s+[\\d.]+[KM]iB / 64\\.0MiB\\s+[\\d.]+%\\s+3 / 50$`));
        await sv.ok(['rm', '-f', nm]);
      });

      it('update changes the limits of a running container through the shim (cgroup files, inspect, stats)', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--memory', '64m', '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const { id } = await sv.inspect(nm);
        assert.equal(cgroupFile('cpu', id, 'cpu.cfs_quota_us'), '-1', 'no cpu limit yet');
        assert.deepEqual(
          (await sv.cli(['update', '--memory', '128m', '--cpus', '1.5', '--pids-limit', '70', nm])).code,
          0,
        );
        assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), String(128 * MiB));
        assert.equal(cgroupFile('cpu', id, 'cpu.cfs_quota_us'), '150000');
        assert.equal(cgroupFile('pids', id, 'pids.max'), '70');
        const c = (await sv.inspect(nm)) as unknown as { resources: Record<string, number | null> };
        assert.deepEqual(c.resources, { memory: 128 * MiB, nanoCpus: 1_500_000_000, pidsLimit: 70 });
        const [s] = await statsJson(nm);
        assert.deepEqual([s?.memoryLimit, s?.pidsLimit], [128 * MiB, 70]);
        // only what is given changes
        await sv.ok(['update', '--pids-limit', '30', nm]);
        assert.deepEqual([cgroupFile('pids', id, 'pids.max'), cgroupFile('memory', id, 'memory.limit_in_bytes')], ['30', String(128 * MiB)]);
        await sv.ok(['rm', '-f', nm]);
      });

      it('update is kept for a restart by the policy: the new task gets the updated limits', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--restart', 'always', '--pids-limit', '50', '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const first = await sv.inspect(nm);
        await sv.ok(['update', '--pids-limit', '40', nm]);
        await sv.ok(['kill', nm]);
        const again = await sv.restarted(nm, 1, 'the restart after SIGKILL');
        assert.notEqual(again.pid, first.pid);
        assert.equal(cgroupFile('pids', again.id, 'pids.max'), '40', 'the limit update set, not the one run set');
        await sv.ok(['rm', '-f', nm]);
      });

      it('pause freezes the container (ps and inspect say paused), resume thaws it; rm -f removes a paused one', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'while true; do echo tick; sleep 0.05; done']);
        const { id, pid, logDir } = await sv.inspect(nm);
        await sv.ok(['pause', nm]);
        assert.equal(cgroupFile('freezer', id, 'freezer.state'), 'FROZEN');
        assert.equal((await sv.inspect(nm)).status, 'paused');
        const row = (await sv.ok(['ps'])).split('\n').find((l) => l.startsWith(`${nm} `)) ?? '';
        assert.match(row, new RegExp(`^${nm}\\s+${id}\\s+Up .*\\(Paused\\)\\s+${pid}\\s`));
        const exec = await sv.cli(['exec', nm, '--', '/bin/true']);
        assert.deepEqual([exec.code, exec.stderr], [1, `tsrunc: container ${nm} is paused: resume it first\n`]);
        const twice = await sv.cli(['pause', nm]);
        assert.deepEqual([twice.code, twice.stderr], [1, `tsrunc: container ${nm} is already paused\n`]);
        const frozenLog = sv.logText(logDir);
        await sv.ok(['resume', nm]);
        assert.equal(cgroupFile('freezer', id, 'freezer.state'), 'THAWED');
        assert.equal((await sv.inspect(nm)).status, 'running');
        // thawed: the output grows again
        await waitFor(() => sv.logText(logDir).length > frozenLog.length + 20, { timeoutMs: 20_000, what: 'output to resume' });
        const notPaused = await sv.cli(['resume', nm]);
        assert.deepEqual([notPaused.code, notPaused.stderr], [1, `tsrunc: container ${nm} is not paused\n`]);
        await sv.ok(['pause', nm]);
        await sv.ok(['rm', '-f', nm]);
        await waitFor(() => !alive(pid), { timeoutMs: 20_000, what: 'the paused container to be gone' });
        await waitFor(() => sv.shimPids(id).length === 0, { what: 'the shim to exit after its Shutdown' });
      });
    });
  }

  it('stats streams a sample a second until interrupted; CPU % reflects a busy container capped by --cpus', async () => {
    await sv.ok(['run', '-d', '--name', 'busy', '--cpus', '0.5', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'while true; do :; done']);
    await sv.ok(['run', '-d', '--name', 'idle', '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
    const watcher = spawn(process.execPath, [TSRUNC, '--root', sv.root, 'stats', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    watcher.stdout.on('data', (b: Buffer) => (text += b.toString()));
    const exited = new Promise<number | null>((resolve) => watcher.once('exit', (code) => resolve(code)));
    try {
      const samples = (nm: string): StatsJson[] =>
        text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as StatsJson)
          .filter((s) => s.name === nm);
      await waitFor(() => samples('busy').length >= 3 && samples('idle').length >= 3, { timeoutMs: 30_000, what: 'three samples of each container' });
      const busy = samples('busy').slice(1).map((s) => s.cpuPercent);
      assert.ok(busy.some((p) => p > 10), `busy CPU % ${busy.join(', ')}`);
      assert.ok(busy.every((p) => p < 75), `the 0.5 CPU cap holds: ${busy.join(', ')}`);
      assert.ok(samples('idle').every((s) => s.cpuPercent < 5), 'idle stays idle');
    } finally {
      watcher.kill('SIGINT');
    }
    assert.equal(await exited, 0, 'SIGINT ends stats cleanly');
    await sv.ok(['rm', '-f', 'busy', 'idle']);
  });

  it('refuses what cannot be done: bad flag values, a stopped container, nothing to update', async () => {
    const bad = await sv.cli(['run', '--memory', 'lots', '--rootfs', rootfs, '--', '/bin/true']);
    assert.deepEqual([bad.code, bad.stderr], [2, 'tsrunc: invalid size: lots (e.g. 64m, 1g)\n']);
    const tiny = await sv.cli(['run', '--memory', '1k', '--rootfs', rootfs, '--', '/bin/true']);
    assert.deepEqual([tiny.code, tiny.stderr], [125, 'tsrunc: memory limit 1024 is below the minimum of 6 MiB\n']);
    const cpus = await sv.cli(['run', '--cpus', 'x', '--rootfs', rootfs, '--', '/bin/true']);
    assert.equal(cpus.code, 2);
    await sv.ok(['run', '--name', 'done', '--rootfs', rootfs, '--', '/bin/true']);
    for (const verb of [['update', '--memory', '64m'], ['pause'], ['resume'], ['stats', '--no-stream']]) {
      const r = await sv.cli([...verb, 'done']);
      assert.equal(r.code, 1, `${verb.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tsrunc: cannot \S+.* container done: it is stopped\n$/);
    }
    const nothing = await sv.cli(['update', 'done']);
    assert.deepEqual([nothing.code, nothing.stderr], [2, 'tsrunc: update needs at least one of --memory, --cpus, --pids-limit\n']);
    await sv.ok(['rm', 'done']);
  });
});

