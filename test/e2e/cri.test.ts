/**
 * The Kubernetes path without a cluster: a private containerd with its CRI plugin and two runtime
 * handlers — `runc` (Go's io.containerd.runc.v2, the default CRI insists on) and `tsrunc`
 * (io.containerd.tsrunc.v2, its runc settings in the TOML file named by the handler's ConfigPath,
 * PROTOCOL §9.4) — driven over gRPC the way the kubelet drives it for a pod whose RuntimeClass names
 * the handler: RunPodSandbox, CreateContainer ×2, StartContainer, ExecSync, ContainerStats,
 * UpdateContainerResources, containerd SIGKILLed and restarted under the pod, ContainerStatus, the
 * CRI log file, StopContainer (its exit seen by the restarted containerd), RemoveContainer, a
 * restart (CreateContainer attempt 1), a container OOM-killed at its limit, StopPodSandbox,
 * RemovePodSandbox. The same steps run for `runc` for comparison.
 *
 * Facts of these machines (RECIPES "containerd with CRI"): no CNI, so pods use host networking and
 * no hostname; no CAP_SYS_RESOURCE, so restrict_oom_score_adj. Everything the pods make stays under
 * this test's temp dirs: a runc Root per handler, a cgroup parent per handler, CRI's own cni dirs,
 * log directories; images are OCI tarballs imported with `ctr -n k8s.io images import`.
 *
 * The private containerd's helper namespace is NOT k8s.io: Containerd.stop() cleans its namespace's
 * shared paths (/run/containerd/runc/<ns>, /sys/fs/cgroup/<h>/<ns>), and k8s.io's belong to every
 * CRI containerd of the machine. What the pods make is cleaned here, by exact path.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { i64 } from '../../proto/long';
import { runtime } from '../../proto/gen/cri';
import { BIN, Containerd, mountsUnder, run, shimSocketPath } from '../helpers/containerd';
import {
  CRI_NAMESPACE,
  CriClient,
  appRootfs,
  argvOf,
  buildCriImages,
  cgroupsUnder,
  criConfig,
  criLogWithLines,
  exited,
  inCgroupUnder,
  procStat,
  processesUnderCgroup,
  removeCgroupParent,
  verboseInfo,
  writeTsruncOptions,
} from '../helpers/cri';
import { isUnified } from '../../shim/cgroups/join';
import { requireSystem, skipBecause } from '../helpers/system';
import { waitFor } from '../helpers/wait';

import v1 = runtime.v1;

const APP_IMAGE = 'docker.io/tsrunc/cri-app:1';
const PAUSE_IMAGE = 'docker.io/tsrunc/cri-pause:1';
const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

interface Handler {
  /** The RuntimeClass handler name (a key of containerd's CRI `runtimes` table). */
  name: 'tsrunc' | 'runc';
  runtimeType: string;
  shimBinary: string;
}

const HANDLERS: readonly Handler[] = [
  { name: 'tsrunc', runtimeType: 'io.containerd.tsrunc.v2', shimBinary: 'containerd-shim-tsrunc-v2' },
  { name: 'runc', runtimeType: 'io.containerd.runc.v2', shimBinary: 'containerd-shim-runc-v2' },
];

/** The app container: its TERM trap makes StopContainer's exit code observable. */
const APP_COMMAND = ['/bin/sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo "hello from app"; while :; do sleep 3600 & wait $!; done'];
/** Allocates 64 MiB (the hog, under a 16 MiB limit: OOM-killed). */
const ALLOCATE_64M = ['/bin/awk', 'BEGIN{s=sprintf("%67108864s",""); print length(s)}'];
/** The sidecar: one stderr line, then a PID 1 that ignores TERM (StopContainer with timeout 0 SIGKILLs it). */
const SIDECAR_COMMAND = ['/bin/sh', '-c', 'echo "sidecar to stderr" >&2; exec sleep 3600'];

/** Why the steps that read the container's cgroup files skip on a unified host (as shim-stats-oom.test.ts). */
const V1_ONLY = 'cgroup v2 unified host: this reads the container’s v1 cgroup files (the shim’s v2 stats are covered on fixture trees)';

/** A file of `pid`'s cgroup in the v1 hierarchy of `controller` (as /proc/<pid>/cgroup names it). */
function cgroupFile(pid: number, controller: string, file: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => (l.split(':')[1] ?? '').split(',').includes(controller));
  assert.ok(line, `process ${pid} is in a v1 ${controller} cgroup`);
  const mount = readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes(controller));
  assert.ok(mount, `a v1 hierarchy for ${controller}`);
  return join('/sys/fs/cgroup', mount, line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1), file);
}

describe('Kubernetes: containerd CRI runs pods with RuntimeClass handler tsrunc (and runc for comparison)', function () {
  this.timeout(60_000);
  let scratch: string;
  let ct: Containerd | undefined;
  let cri: CriClient | undefined;
  const sandboxIds: string[] = [];
  const unique = Math.random().toString(36).slice(2, 8);
  const cgroupParent = (h: Handler): string => `tsrunc-cri-${unique}-${h.name}`;
  const runcRoot = (name: Handler['name']): string => join(scratch, `runc-root-${name}`);

  before(async function () {
    this.timeout(120_000);
    requireSystem(this, ['containerd', 'ctr', 'runc', 'tar', 'containerd-shim-runc-v2', '/bin/busybox', join(BIN, 'containerd-shim-tsrunc-v2')]);
    scratch = mkdtempSync('/tmp/tscri-');
    for (const d of ['cni/bin', 'cni/conf', 'logs', 'images']) mkdirSync(join(scratch, d), { recursive: true });
    const tsruncOptions = join(scratch, 'tsrunc.toml');
    writeTsruncOptions(tsruncOptions, { root: runcRoot('tsrunc') });
    const images = buildCriImages(join(scratch, 'images'), { app: APP_IMAGE, pause: PAUSE_IMAGE }, appRootfs(join(scratch, 'images')));

    ct = await Containerd.start({
      cri: true,
      extraConfig: criConfig({
        sandboxImage: PAUSE_IMAGE,
        cniBinDir: join(scratch, 'cni/bin'),
        cniConfDir: join(scratch, 'cni/conf'),
        runcRoot: runcRoot('runc'),
        tsruncConfigPath: tsruncOptions,
      }),
    });
    // stop() force-deletes whatever is left in these (each handler's Root, namespace appended).
    for (const h of HANDLERS) ct.registerRuncRoot(join(runcRoot(h.name), CRI_NAMESPACE));
    const client = new CriClient(ct.address);
    cri = client;
    const started = ct;
    const version = await waitFor(() => client.call('Version', {}, 5000), { timeoutMs: 20_000, what: 'the CRI RuntimeService to answer' }).catch((err: unknown) => {
      throw new Error(`containerd's CRI plugin did not come up (${String(err)}); containerd log:\n${started.logTail(30)}`);
    });
    assert.equal(version.runtimeName, 'containerd');
    assert.equal(version.runtimeApiVersion, 'v1');

    for (const tarball of [images.pause, images.app]) {
      const r = await ct.ctr(['images', 'import', tarball], { namespace: CRI_NAMESPACE });
      assert.equal(r.code, 0, `ctr -n k8s.io images import ${tarball}: ${r.stdout}${r.stderr}`);
    }
    for (const image of [PAUSE_IMAGE, APP_IMAGE]) {
      await waitFor(async () => (await client.call('ImageStatus', { image: { image } })).image?.id, { timeoutMs: 10_000, what: `CRI to see ${image}` });
    }
  });

  after(async () => {
    cri?.close();
    const address = ct?.address;
    await ct?.stop(); // containerd, then shims by address, runc state in the registered Roots, mounts
    if (address !== undefined) {
      for (const id of sandboxIds) {
        const socket = shimSocketPath(address, CRI_NAMESPACE, id);
        if (existsSync(socket)) unlinkSync(socket);
      }
    }
    for (const h of HANDLERS) removeCgroupParent(cgroupParent(h));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const handler of HANDLERS) {
    describe(`runtime handler "${handler.name}" (${handler.runtimeType})`, () => {
      let broken = false;
      let removed = false;
      let sandboxId = '';
      let sandboxPid = 0;
      let sandboxConfig: v1.PodSandboxConfig.$Properties;
      let logDir = '';
      const containers: Record<'app' | 'sidecar', { id: string; pid: number }> = { app: { id: '', pid: 0 }, sidecar: { id: '', pid: 0 } };
      let shimPid = 0;
      /** The app, created again after its stop as the kubelet restarts a container (attempt 1). */
      const restarted = { id: '', pid: 0 };
      /** A container OOM-killed at its memory limit. */
      let hogId = '';

      const client = (): CriClient => {
        if (cri === undefined) throw new Error('no CRI client');
        return cri;
      };
      const containerd = (): Containerd => {
        if (ct === undefined) throw new Error('no containerd');
        return ct;
      };
      const rootDir = (): string => join(runcRoot(handler.name), CRI_NAMESPACE);
      /**
       * This handler's shim servers for this containerd: argv `-address <its socket>` and the handler's
       * binary, not a start/delete action (so a leftover of the other handler cannot blur the count).
       */
      const shimServers = (): number[] =>
        containerd()
          .shimPids()
          .filter((pid) => {
            const argv = argvOf(pid);
            return argv.some((a) => basename(a) === handler.shimBinary) && !['start', 'delete'].includes(argv[argv.length - 1] ?? '');
          });
      const containerStatus = async (id: string): Promise<v1.ContainerStatus.$Properties & { info: Record<string, string> }> => {
        const r = await client().call('ContainerStatus', { containerId: id, verbose: true });
        assert.ok(r.status, `ContainerStatus ${id} has a status`);
        return { ...r.status, info: r.info };
      };
      /** `runc --root <the handler's Root>/k8s.io state <id>`: where the options file said runc state lives. */
      const runcState = async (id: string): Promise<{ status: string; pid: number }> => {
        const r = await run('runc', ['--root', rootDir(), 'state', id], { timeoutMs: 10_000 });
        assert.equal(r.code, 0, `runc --root ${rootDir()} state ${id}: ${r.stderr}`);
        return JSON.parse(r.stdout) as { status: string; pid: number };
      };

      /** CreateContainer + StartContainer in the pod, as the kubelet makes a container; resolves with its id. */
      const runContainer = async (config: { name: string; attempt?: number; command: readonly string[]; logPath: string; envs?: v1.KeyValue.$Properties[]; memoryLimit?: number }): Promise<string> => {
        const created = await client().call('CreateContainer', {
          podSandboxId: sandboxId,
          sandboxConfig,
          config: {
            metadata: { name: config.name, attempt: config.attempt ?? 0 },
            image: { image: APP_IMAGE },
            command: [...config.command],
            envs: config.envs ?? [],
            logPath: config.logPath,
            linux: {
              ...(config.memoryLimit === undefined ? {} : { resources: { memoryLimitInBytes: i64(config.memoryLimit) } }),
              securityContext: { namespaceOptions: { network: v1.NamespaceMode.NODE, pid: v1.NamespaceMode.CONTAINER, ipc: v1.NamespaceMode.POD } },
            },
          },
        });
        await client().call('StartContainer', { containerId: created.containerId });
        return created.containerId;
      };

      beforeEach(function () {
        // a failure, not a skip: the steps of a pod build on each other, and none may pass unseen
        if (broken) throw new Error('not run: an earlier step of this pod failed (reported above)');
      });
      afterEach(function () {
        if (this.currentTest?.state === 'failed') broken = true;
      });
      after(async () => {
        if (sandboxId === '' || removed || cri === undefined) return;
        // A failed step left the pod: remove it through CRI while containerd runs (errors ignored).
        await cri.call('StopPodSandbox', { podSandboxId: sandboxId }, 30_000).catch(() => undefined);
        await cri.call('RemovePodSandbox', { podSandboxId: sandboxId }, 30_000).catch(() => undefined);
      });

      it(`RunPodSandbox with runtime_handler "${handler.name}": a ready host-network sandbox in the cgroup parent, runc state in the handler's Root`, async () => {
        const uid = `uid-${unique}-${handler.name}`;
        const name = `cri-${handler.name}`;
        logDir = join(scratch, 'logs', `default_${name}_${uid}`);
        mkdirSync(join(logDir, 'app'), { recursive: true }); // the kubelet makes the pod and container log dirs
        mkdirSync(join(logDir, 'sidecar'), { recursive: true });
        sandboxConfig = {
          metadata: { name, uid, namespace: 'default', attempt: 0 },
          logDirectory: logDir,
          labels: { app: name },
          linux: {
            cgroupParent: `/${cgroupParent(handler)}`,
            securityContext: { namespaceOptions: { network: v1.NamespaceMode.NODE, pid: v1.NamespaceMode.POD, ipc: v1.NamespaceMode.POD } },
          },
        };
        const r = await client().call('RunPodSandbox', { config: sandboxConfig, runtimeHandler: handler.name });
        sandboxId = r.podSandboxId;
        sandboxIds.push(sandboxId);
        assert.match(sandboxId, /^[0-9a-f]{64}$/);

        const s = await client().call('PodSandboxStatus', { podSandboxId: sandboxId, verbose: true });
        assert.equal(s.status?.state, v1.PodSandboxState.SANDBOX_READY);
        assert.equal(s.status?.runtimeHandler, handler.name);
        const info = verboseInfo(s.info);
        assert.equal(info.runtimeHandler, handler.name);
        assert.equal(info.runtimeType, handler.runtimeType);
        if (handler.name === 'tsrunc') {
          const sent = JSON.stringify(info.runtimeOptions);
          assert.ok(sent.includes(join(scratch, 'tsrunc.toml')), `CRI sends runtimeoptions.v1.Options{ConfigPath}: ${sent}`);
        }
        sandboxPid = info.pid;
        assert.ok(sandboxPid > 0, 'the sandbox has a pid');
        assert.ok(inCgroupUnder(sandboxPid, cgroupParent(handler)), `the sandbox process is under /${cgroupParent(handler)}`);

        // The options took effect: runc state lives in the handler's Root, not in the default root.
        const state = await runcState(sandboxId);
        assert.equal(state.status, 'running');
        assert.equal(state.pid, sandboxPid);
        assert.ok(!existsSync(join('/run/containerd/runc', CRI_NAMESPACE, sandboxId)), 'nothing in the default runc root');
      });

      it('CreateContainer ×2 + StartContainer: both RUNNING in the pod, grouped by io.kubernetes.cri.sandbox-id', async () => {
        const specs = { app: APP_COMMAND, sidecar: SIDECAR_COMMAND } as const;
        for (const name of ['app', 'sidecar'] as const) {
          containers[name].id = await runContainer({ name, command: specs[name], envs: [{ key: 'CRI_HANDLER', value: handler.name }], logPath: `${name}/0.log` });
        }
        for (const name of ['app', 'sidecar'] as const) {
          const { id } = containers[name];
          const status = await containerStatus(id);
          assert.equal(status.state, v1.ContainerState.CONTAINER_RUNNING, `${name} is RUNNING`);
          assert.equal(status.logPath, join(logDir, name, '0.log'));
          const info = verboseInfo(status.info);
          assert.equal(info.runtimeType, handler.runtimeType);
          assert.equal(info.annotations[SANDBOX_ID_ANNOTATION], sandboxId, 'the grouping annotation names the pod');
          containers[name].pid = info.pid;
          assert.ok(info.pid > 0);
          assert.ok(inCgroupUnder(info.pid, cgroupParent(handler)), `${name} is under /${cgroupParent(handler)}`);
          const state = await runcState(id);
          assert.deepEqual([state.status, state.pid], ['running', info.pid], `${name}: runc state in the handler's Root`);
        }
        const listed = await client().call('ListContainers', { filter: { podSandboxId: sandboxId } });
        assert.deepEqual(listed.containers.map((c) => c.id).sort(), [containers.app.id, containers.sidecar.id].sort());
      });

      it('a node operator sees the runtime with ctr (docs/kubernetes.md): containers info, shim state', async () => {
        const ctd = containerd();
        for (const id of [sandboxId, containers.app.id, containers.sidecar.id]) {
          const r = await ctd.ctr(['containers', 'info', id], { namespace: CRI_NAMESPACE });
          assert.equal(r.code, 0, r.stderr);
          const info = JSON.parse(r.stdout) as { Runtime?: { Name?: string } };
          assert.equal(info.Runtime?.Name, handler.runtimeType, `ctr -n k8s.io containers info ${id}`);
        }
        // `ctr shim --id` reaches a shim by the socket of that id: for a pod, the sandbox id (the group key).
        const r = await ctd.ctr(['shim', '--id', sandboxId, 'state'], { namespace: CRI_NAMESPACE });
        assert.equal(r.code, 0, r.stderr);
        const state = JSON.parse(r.stdout) as { id?: string; pid?: number; status?: number };
        assert.deepEqual([state.id, state.pid, state.status], [sandboxId, sandboxPid, 2], 'ctr shim state: the sandbox, RUNNING (2)');
      });

      it(`one ${handler.shimBinary} process serves the sandbox and both containers`, () => {
        const ctd = containerd();
        const servers = shimServers();
        assert.equal(servers.length, 1, `exactly one ${handler.shimBinary} server for this containerd, found ${servers.map((p) => `${p}: ${argvOf(p).join(' ')}`).join('; ')}`);
        shimPid = servers[0] ?? 0;
        const argv = argvOf(shimPid);
        const flag = (name: string): string | undefined => argv[argv.indexOf(name) + 1];
        assert.equal(flag('-address'), ctd.address);
        assert.equal(flag('-namespace'), CRI_NAMESPACE);
        assert.equal(flag('-id'), sandboxId, 'the server was started for the sandbox (the group key)');
        for (const [what, pid] of [['sandbox', sandboxPid], ['app', containers.app.pid], ['sidecar', containers.sidecar.pid]] as const) {
          assert.equal(procStat(pid)?.ppid, shimPid, `the ${what} process is a child of the shim (its subreaper)`);
        }
        const socket = shimSocketPath(ctd.address, CRI_NAMESPACE, sandboxId);
        assert.ok(statSync(socket).isSocket(), `${socket} is the group's socket`);
        for (const id of [sandboxId, containers.app.id, containers.sidecar.id]) {
          assert.equal(readFileSync(join(ctd.bundle(id, CRI_NAMESPACE), 'address'), 'utf8').trim(), `unix://${socket}`, `bundle ${id} names the group's socket`);
        }
      });

      it('ExecSync returns stdout, stderr and the exit code', async () => {
        const r = await client().call('ExecSync', { containerId: containers.app.id, cmd: ['sh', '-c', 'echo hi; exit 3'], timeout: i64(10) });
        assert.deepEqual([Buffer.from(r.stdout).toString(), Buffer.from(r.stderr).toString(), r.exitCode], ['hi\n', '', 3]);
        const r2 = await client().call('ExecSync', { containerId: containers.sidecar.id, cmd: ['sh', '-c', 'echo "out $CRI_HANDLER"; echo err >&2'], timeout: i64(10) });
        assert.deepEqual([Buffer.from(r2.stdout).toString(), Buffer.from(r2.stderr).toString(), r2.exitCode], [`out ${handler.name}\n`, 'err\n', 0]);
        assert.deepEqual(shimServers(), [shimPid], 'execs start no other shim');
      });

      it('ContainerStats: CPU and memory of the container, from the shim’s Stats (cgroup v1 metrics)', async function () {
        if (isUnified()) skipBecause(this, V1_ONLY);
        for (const name of ['app', 'sidecar'] as const) {
          const { pid, id } = containers[name];
          const read = (controller: string, file: string): number => Number(readFileSync(cgroupFile(pid, controller, file), 'utf8'));
          // the container's own cgroup, not the pod's or the node's: its CPU counter brackets the answer
          const cpuBefore = read('cpuacct', 'cpuacct.usage');
          const { stats } = await client().call('ContainerStats', { containerId: id });
          const cpuAfter = read('cpuacct', 'cpuacct.usage');
          const usage = read('memory', 'memory.usage_in_bytes');
          assert.equal(stats?.attributes?.id, id);
          const cpu = Number(stats?.cpu?.usageCoreNanoSeconds?.value ?? 0);
          assert.ok(cpu > 0 && cpuBefore <= cpu && cpu <= cpuAfter, `${name}: CPU ${cpu} ns, the cgroup's ${cpuBefore}…${cpuAfter}`);
          const memory = Number(stats?.memory?.usageBytes?.value ?? 0);
          const workingSet = Number(stats?.memory?.workingSetBytes?.value ?? 0);
          assert.ok(Math.abs(memory - usage) < 1024 * 1024, `${name}: memory usage ${memory}, the cgroup's ${usage}`);
          assert.ok(workingSet > 0 && workingSet <= memory, `${name}: working set ${workingSet} of ${memory}`);
        }
      });

      it('UpdateContainerResources: the new memory limit and CPU shares reach the container’s cgroup (the shim’s Update, runc update)', async function () {
        if (isUnified()) skipBecause(this, V1_ONLY);
        const { id, pid } = containers.app;
        const limit = 96 * 1024 * 1024;
        await client().call('UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: i64(limit), cpuShares: i64(384) } });
        assert.equal(Number(readFileSync(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), 'utf8')), limit);
        assert.equal(Number(readFileSync(cgroupFile(pid, 'cpu', 'cpu.shares'), 'utf8')), 384);
        // the sidecar, in the same shim, is untouched
        assert.notEqual(Number(readFileSync(cgroupFile(containers.sidecar.pid, 'memory', 'memory.limit_in_bytes'), 'utf8')), limit);
      });

      it('containerd SIGKILLed and restarted: the pod runs on in its one shim, and CRI finds it again (status, exec, stats)', async () => {
        const ctd = containerd();
        await ctd.kill();
        await ctd.launch();
        await waitFor(() => client().call('Version', {}, 5000), { timeoutMs: 20_000, what: 'the CRI RuntimeService to answer again' });
        assert.deepEqual(shimServers(), [shimPid], 'the same shim serves the pod');
        for (const name of ['app', 'sidecar'] as const) {
          const status = await containerStatus(containers[name].id);
          assert.equal(status.state, v1.ContainerState.CONTAINER_RUNNING, `${name} is RUNNING after the restart`);
          assert.equal(verboseInfo(status.info).pid, containers[name].pid, `${name}: the same process`);
        }
        const r = await client().call('ExecSync', { containerId: containers.app.id, cmd: ['echo', 'after restart'], timeout: i64(10) });
        assert.deepEqual([Buffer.from(r.stdout).toString(), r.exitCode], ['after restart\n', 0]);
        const { stats } = await client().call('ContainerStats', { containerId: containers.sidecar.id });
        assert.ok(Number(stats?.cpu?.usageCoreNanoSeconds?.value ?? 0) > 0, 'stats through the restarted containerd');
      });

      it('the containers write their output to log_path in the CRI log format', async () => {
        const appLog = join(logDir, 'app', '0.log');
        const sidecarLog = join(logDir, 'sidecar', '0.log');
        const appLines = await waitFor(() => criLogWithLines(appLog, 1), { timeoutMs: 10_000, what: `a line in ${appLog}` });
        assert.deepEqual(
          appLines.map((l) => [l.stream, l.tag, l.content]),
          [['stdout', 'F', 'hello from app']],
        );
        assert.ok(!Number.isNaN(Date.parse(appLines[0]?.time ?? '')), 'an RFC 3339 timestamp');
        const sidecarLines = await waitFor(() => criLogWithLines(sidecarLog, 1), { timeoutMs: 10_000, what: `a line in ${sidecarLog}` });
        assert.deepEqual(
          sidecarLines.map((l) => [l.stream, l.tag, l.content]),
          [['stderr', 'F', 'sidecar to stderr']],
        );
      });

      it('StopContainer: EXITED with the exit code (7 from the TERM trap; 137 for SIGKILL with timeout 0), RemoveContainer', async () => {
        await client().call('StopContainer', { containerId: containers.app.id, timeout: i64(10) });
        const app = await containerStatus(containers.app.id);
        assert.deepEqual([app.state, app.exitCode], [v1.ContainerState.CONTAINER_EXITED, 7], `app: ${app.reason ?? ''} ${app.message ?? ''}`);
        const appLog = join(logDir, 'app', '0.log');
        const lines = await waitFor(() => criLogWithLines(appLog, 2), { timeoutMs: 10_000, what: `the TERM line in ${appLog}` });
        assert.deepEqual(
          lines.map((l) => l.content),
          ['hello from app', 'got TERM'],
        );

        await client().call('StopContainer', { containerId: containers.sidecar.id, timeout: i64(0) });
        const sidecar = await containerStatus(containers.sidecar.id);
        assert.deepEqual([sidecar.state, sidecar.exitCode], [v1.ContainerState.CONTAINER_EXITED, 137], `sidecar: ${sidecar.reason ?? ''} ${sidecar.message ?? ''}`);

        await client().call('RemoveContainer', { containerId: containers.app.id });
        const listed = await client().call('ListContainers', { filter: { podSandboxId: sandboxId } });
        assert.deepEqual(
          listed.containers.map((c) => c.id),
          [containers.sidecar.id],
        );
        assert.ok(!existsSync(join(rootDir(), containers.app.id)), 'the removed container has no runc state left');
        assert.deepEqual(shimServers(), [shimPid], 'the pod keeps its one shim while the sandbox runs');
      });

      it('a container restarted as the kubelet restarts one (same name, attempt 1) runs in the pod’s one shim, its output in the new log', async () => {
        restarted.id = await runContainer({ name: 'app', attempt: 1, command: APP_COMMAND, logPath: 'app/1.log' });
        const status = await containerStatus(restarted.id);
        assert.equal(status.state, v1.ContainerState.CONTAINER_RUNNING);
        restarted.pid = verboseInfo(status.info).pid;
        assert.equal(procStat(restarted.pid)?.ppid, shimPid, 'the restarted container is a child of the pod’s shim');
        assert.deepEqual(shimServers(), [shimPid], 'a restart starts no other shim');
        const log = join(logDir, 'app', '1.log');
        const lines = await waitFor(() => criLogWithLines(log, 1), { timeoutMs: 10_000, what: `a line in ${log}` });
        assert.deepEqual(
          lines.map((l) => l.content),
          ['hello from app'],
        );
        const r = await client().call('ExecSync', { containerId: restarted.id, cmd: ['echo', 'again'], timeout: i64(10) });
        assert.deepEqual([Buffer.from(r.stdout).toString(), r.exitCode], ['again\n', 0]);
      });

      it('a container that outgrows its memory limit: EXITED with reason OOMKilled and 137, as the kubelet reports it (the shim’s /tasks/oom)', async () => {
        hogId = await runContainer({ name: 'hog', command: ALLOCATE_64M, logPath: 'hog.log', memoryLimit: 16 * 1024 * 1024 });
        const status = await waitFor(
          async () => {
            const st = await containerStatus(hogId);
            return st.state === v1.ContainerState.CONTAINER_EXITED ? st : undefined;
          },
          { timeoutMs: 30_000, what: 'the hog to exit' },
        );
        // Go's shim, the reference, may publish the OOM after the exit, and CRI then keeps `Error`
        // (once in a full run); ours always publishes it first (shim-stats-oom.test.ts)
        const reasons = handler.name === 'tsrunc' ? ['OOMKilled'] : ['OOMKilled', 'Error'];
        assert.ok(reasons.includes(status.reason ?? ''), `reason ${status.reason ?? ''}: ${status.message ?? ''}`);
        assert.equal(status.exitCode, 137);
        assert.deepEqual(shimServers(), [shimPid], 'the pod keeps its one shim');
      });

      it('StopPodSandbox + RemovePodSandbox: the shim exits; no process, mount, cgroup, socket or runc state is left', async () => {
        const ctd = containerd();
        await client().call('StopPodSandbox', { podSandboxId: sandboxId });
        const s = await client().call('PodSandboxStatus', { podSandboxId: sandboxId });
        assert.equal(s.status?.state, v1.PodSandboxState.SANDBOX_NOTREADY);
        await client().call('RemovePodSandbox', { podSandboxId: sandboxId });
        removed = true;

        const pods = await client().call('ListPodSandbox', { filter: { id: sandboxId } });
        assert.deepEqual(pods.items, [], 'CRI forgot the pod');
        const left = await client().call('ListContainers', { filter: { podSandboxId: sandboxId } });
        assert.deepEqual(left.containers, [], 'CRI forgot its containers');

        // it exits, or is a spare again (it served its pod: shim/manager/spare.ts afterTask)
        await waitFor(() => ctd.shimEnded(shimPid), { timeoutMs: 10_000, what: `the shim (pid ${shimPid}) to exit or be a spare again` });
        assert.deepEqual(shimServers(), [], `no ${handler.shimBinary} of this containerd is left`);
        for (const pid of [sandboxPid, containers.app.pid, containers.sidecar.pid, restarted.pid]) assert.ok(exited(pid), `pod process ${pid} is gone`);
        assert.deepEqual(processesUnderCgroup(cgroupParent(handler)), [], `no process under /${cgroupParent(handler)}`);
        await waitFor(() => cgroupsUnder(cgroupParent(handler)).length === 0, { timeoutMs: 5000 }).catch(() => undefined);
        assert.deepEqual(cgroupsUnder(cgroupParent(handler)), [], `no cgroup under /${cgroupParent(handler)}`);
        assert.deepEqual([...mountsUnder(ctd.root), ...mountsUnder(ctd.state)], [], 'no mount under containerd root/state');
        const socket = shimSocketPath(ctd.address, CRI_NAMESPACE, sandboxId);
        assert.ok(!existsSync(socket), `the shim socket ${socket} is removed`);
        for (const id of [sandboxId, containers.app.id, containers.sidecar.id, restarted.id, hogId]) {
          assert.ok(!existsSync(join(rootDir(), id)), `no runc state for ${id}`);
          assert.ok(!existsSync(ctd.bundle(id, CRI_NAMESPACE)), `no bundle for ${id}`);
        }
      });
    });
  }
});
