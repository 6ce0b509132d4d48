/**
 * The Kubernetes path without a cluster: containerd's CRI plugin driven the way the kubelet drives it,
 * over gRPC (k8s `runtime.v1`, our subset in proto/cri/runtime/v1/api.proto).
 *
 *   - `CriClient`: a @grpc/grpc-js client of RuntimeService and ImageService, built with
 *     `grpc.makeGenericClientConstructor` over the generated static classes (proto/gen/cri).
 *   - `criConfig`: the CRI plugin section (RECIPES "containerd with CRI") with the default `runc`
 *     handler and ours, each with its own runc Root; ours gets it through the handler's `options`
 *     table → runtimeoptions.v1.Options{ConfigPath} → the TOML file (PROTOCOL §9.4).
 *   - `buildCriImages`: an app image (busybox) and a small pause-like sandbox image, as OCI tarballs.
 *   - what a test looks at: the verbose `info` JSON, CRI log lines, cgroups and processes under a
 *     cgroup parent.
 */
import * as grpc from '@grpc/grpc-js';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtime } from '../../proto/gen/cri';
import { buildImage } from './image';
import { argvOf } from './proc';
export { argvOf };
import { buildRootfs } from './rootfs';

import v1 = runtime.v1;

/** The CRI plugin's namespace in containerd. */
export const CRI_NAMESPACE = 'k8s.io';

// ── the gRPC client ────────────────────────────────────────────────────────────────────────────

/** A generated static message class: encodes what `P` describes, decodes to `M`. */
interface MessageClass<P, M extends P> {
  encode(message: P): { finish(): Uint8Array };
  decode(bytes: Uint8Array): M;
}

function unary<ReqP, ReqM extends ReqP, ResP, ResM extends ResP>(
  service: string,
  method: string,
  request: MessageClass<ReqP, ReqM>,
  response: MessageClass<ResP, ResM>,
): grpc.MethodDefinition<ReqP, ResM> {
  return {
    path: `/${service}/${method}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: ReqP) => Buffer.from(request.encode(m).finish()),
    requestDeserialize: (b: Buffer) => request.decode(b),
    responseSerialize: (m: ResM) => Buffer.from(response.encode(m).finish()),
    responseDeserialize: (b: Buffer) => response.decode(b),
  };
}

const RUNTIME = 'runtime.v1.RuntimeService';
const IMAGE = 'runtime.v1.ImageService';

/** The RuntimeService methods we use (wire names as in upstream api.proto). */
const RUNTIME_SERVICE = {
  Version: unary(RUNTIME, 'Version', v1.VersionRequest, v1.VersionResponse),
  RunPodSandbox: unary(RUNTIME, 'RunPodSandbox', v1.RunPodSandboxRequest, v1.RunPodSandboxResponse),
  StopPodSandbox: unary(RUNTIME, 'StopPodSandbox', v1.StopPodSandboxRequest, v1.StopPodSandboxResponse),
  RemovePodSandbox: unary(RUNTIME, 'RemovePodSandbox', v1.RemovePodSandboxRequest, v1.RemovePodSandboxResponse),
  PodSandboxStatus: unary(RUNTIME, 'PodSandboxStatus', v1.PodSandboxStatusRequest, v1.PodSandboxStatusResponse),
  ListPodSandbox: unary(RUNTIME, 'ListPodSandbox', v1.ListPodSandboxRequest, v1.ListPodSandboxResponse),
  CreateContainer: unary(RUNTIME, 'CreateContainer', v1.CreateContainerRequest, v1.CreateContainerResponse),
  StartContainer: unary(RUNTIME, 'StartContainer', v1.StartContainerRequest, v1.StartContainerResponse),
  StopContainer: unary(RUNTIME, 'StopContainer', v1.StopContainerRequest, v1.StopContainerResponse),
  RemoveContainer: unary(RUNTIME, 'RemoveContainer', v1.RemoveContainerRequest, v1.RemoveContainerResponse),
  ListContainers: unary(RUNTIME, 'ListContainers', v1.ListContainersRequest, v1.ListContainersResponse),
  ContainerStatus: unary(RUNTIME, 'ContainerStatus', v1.ContainerStatusRequest, v1.ContainerStatusResponse),
  UpdateContainerResources: unary(RUNTIME, 'UpdateContainerResources', v1.UpdateContainerResourcesRequest, v1.UpdateContainerResourcesResponse),
  ExecSync: unary(RUNTIME, 'ExecSync', v1.ExecSyncRequest, v1.ExecSyncResponse),
  ContainerStats: unary(RUNTIME, 'ContainerStats', v1.ContainerStatsRequest, v1.ContainerStatsResponse),
};

/** The ImageService methods we use. */
const IMAGE_SERVICE = {
  ImageStatus: unary(IMAGE, 'ImageStatus', v1.ImageStatusRequest, v1.ImageStatusResponse),
};

type Definitions = typeof RUNTIME_SERVICE & typeof IMAGE_SERVICE;
export type CriMethod = keyof Definitions;
/** What a method's request accepts (the generated `$Properties`: every field optional). */
export type CriRequest<K extends CriMethod> = Parameters<Definitions[K]['requestSerialize']>[0];
/** What a method's response decodes to (the generated class). */
export type CriResponse<K extends CriMethod> = ReturnType<Definitions[K]['responseDeserialize']>;

/** What makeGenericClientConstructor attaches per unary method (client.makeUnaryRequest with the path bound). */
type UnaryStub<Q, R> = (
  this: grpc.Client,
  argument: Q,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: R) => void,
) => grpc.ClientUnaryCall;

const RuntimeServiceClient = grpc.makeGenericClientConstructor(RUNTIME_SERVICE, 'RuntimeService');
const ImageServiceClient = grpc.makeGenericClientConstructor(IMAGE_SERVICE, 'ImageService');

/** A CRI gRPC error: which call, the status code name and containerd's message. */
export class CriError extends Error {
  override readonly name = 'CriError';
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`CRI ${method} failed: ${grpc.status[code]}: ${details}`);
  }
}

/** A client of containerd's CRI endpoint (its main gRPC socket); `close()` it. */
export class CriClient {
  private readonly runtimeClient: InstanceType<grpc.ServiceClientConstructor>;
  private readonly imageClient: InstanceType<grpc.ServiceClientConstructor>;

  constructor(socketPath: string) {
    this.runtimeClient = new RuntimeServiceClient(`unix://${socketPath}`, grpc.credentials.createInsecure());
    this.imageClient = new ImageServiceClient(`unix://${socketPath}`, grpc.credentials.createInsecure());
  }

  /** One unary call with a deadline; rejects with a CriError. */
  call<K extends CriMethod>(method: K, request: CriRequest<K>, timeoutMs = 60_000): Promise<CriResponse<K>> {
    const client = method in IMAGE_SERVICE ? this.imageClient : this.runtimeClient;
    const stub = client[method];
    if (typeof stub !== 'function') return Promise.reject(new Error(`the generic client has no method ${method}`));
    const call = stub as UnaryStub<CriRequest<K>, CriResponse<K>>;
    return new Promise((resolve, reject) => {
      call.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) reject(new CriError(method, err.code, err.details));
        else if (value === undefined) reject(new Error(`CRI ${method} returned no response`));
        else resolve(value);
      });
    });
  }

  close(): void {
    this.runtimeClient.close();
    this.imageClient.close();
  }
}

// ── containerd configuration ───────────────────────────────────────────────────────────────────

export interface CriConfigSpec {
  sandboxImage: string;
  cniBinDir: string;
  cniConfDir: string;
  /** runc Root of the default `runc` handler (Go's shim). */
  runcRoot: string;
  /** The TOML file our handler's ConfigPath names. */
  tsruncConfigPath: string;
}

/** The CRI plugin section appended to the private containerd's config (containerd 1.6 keys). */
export function criConfig(spec: CriConfigSpec): string {
  const cri = '[plugins."io.containerd.grpc.v1.cri"';
  return [
    `${cri}]`,
    `  sandbox_image = "${spec.sandboxImage}"`,
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    '  stream_server_port = "0"',
    `${cri}.cni]`,
    `  bin_dir = "${spec.cniBinDir}"`,
    `  conf_dir = "${spec.cniConfDir}"`,
    `${cri}.containerd]`,
    '  default_runtime_name = "runc"',
    `${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `${cri}.containerd.runtimes.runc.options]`,
    `  Root = "${spec.runcRoot}"`,
    `${cri}.containerd.runtimes.tsrunc]`,
    '  runtime_type = "io.containerd.tsrunc.v2"',
    `${cri}.containerd.runtimes.tsrunc.options]`,
    `  ConfigPath = "${spec.tsruncConfigPath}"`,
    '',
  ].join('\n');
}

/** Writes the runc options file of our handler (the keys shim/container/options.ts reads). */
export function writeTsruncOptions(file: string, options: { root: string }): void {
  writeFileSync(file, `# runc options for io.containerd.tsrunc.v2 (CRI handler "tsrunc")\nRoot = "${options.root}"\n`);
}

// ── images ─────────────────────────────────────────────────────────────────────────────────────

/** The sandbox's process: waits forever, exits 0 on TERM/INT (SIGKILL is what CRI sends). */
export const PAUSE_COMMAND = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

/**
 * Builds the two OCI tarballs under `dir`: `app.tar` (the busybox rootfs at `rootfs`, cmd /bin/sh)
 * and `pause.tar` (busybox with only sh and sleep, entrypoint PAUSE_COMMAND).
 */
export function buildCriImages(dir: string, names: { app: string; pause: string }, rootfs: string): { app: string; pause: string } {
  const pauseRoot = join(dir, 'pause-rootfs');
  for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp']) mkdirSync(join(pauseRoot, d), { recursive: true });
  copyFileSync('/bin/busybox', join(pauseRoot, 'bin', 'busybox'));
  chmodSync(join(pauseRoot, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep']) symlinkSync('busybox', join(pauseRoot, 'bin', applet));
  return {
    app: buildImage({ name: names.app, rootfs, cmd: ['/bin/sh'] }, join(dir, 'app.tar')),
    pause: buildImage({ name: names.pause, rootfs: pauseRoot, entrypoint: PAUSE_COMMAND, cmd: [] }, join(dir, 'pause.tar')),
  };
}

/** A fresh busybox rootfs for the app image (a private copy: other tests' containers write to the shared one). */
export function appRootfs(dir: string): string {
  return buildRootfs(join(dir, 'app-rootfs'));
}

// ── what CRI reports ───────────────────────────────────────────────────────────────────────────

/** The fields of containerd 1.6's verbose `info["info"]` JSON (ContainerInfo / SandboxInfo) we look at. */
export interface VerboseInfo {
  pid: number;
  runtimeType: string;
  /** SandboxInfo only. */
  runtimeHandler: string;
  /** The runtime options CRI sent, as JSON. */
  runtimeOptions: unknown;
  /** The OCI spec's annotations. */
  annotations: Record<string, string>;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** Parses `info["info"]` of a verbose PodSandboxStatus / ContainerStatus response. */
export function verboseInfo(info: Record<string, string> | null | undefined): VerboseInfo {
  const text = info?.['info'];
  if (text === undefined) throw new Error('the verbose status has no info["info"]');
  const json = record(JSON.parse(text));
  const spec = record(json['runtimeSpec']);
  const annotations = Object.fromEntries(Object.entries(record(spec['annotations'])).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return {
    pid: typeof json['pid'] === 'number' ? json['pid'] : 0,
    runtimeType: typeof json['runtimeType'] === 'string' ? json['runtimeType'] : '',
    runtimeHandler: typeof json['runtimeHandler'] === 'string' ? json['runtimeHandler'] : '',
    runtimeOptions: json['runtimeOptions'],
    annotations,
  };
}

/** One line of a CRI container log: `<RFC3339Nano> <stdout|stderr> <F|P> <content>`. */
export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  tag: 'F' | 'P';
  content: string;
}

const CRI_LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) (F|P) (.*)$/;

/** The lines of a CRI log file once it has at least `n` (for waitFor), else undefined. */
export function criLogWithLines(file: string, n: number): CriLogLine[] | undefined {
  const lines = readCriLog(file);
  return lines.length >= n ? lines : undefined;
}

/** Parses a CRI log file; throws naming the first line that is not in the CRI format. */
export function readCriLog(file: string): CriLogLine[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .map((line) => {
      const m = CRI_LOG_LINE.exec(line);
      if (m === null) throw new Error(`${file}: not a CRI log line: ${JSON.stringify(line)}`);
      return { time: m[1] ?? '', stream: m[2] === 'stderr' ? 'stderr' : 'stdout', tag: m[3] === 'P' ? 'P' : 'F', content: m[4] ?? '' };
    });
}

// ── cgroups and processes under a pod cgroup parent ────────────────────────────────────────────

const CGROUP_FS = '/sys/fs/cgroup';

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** The cgroup directories of `parent` itself in every hierarchy (v1 controllers, v2 unified). */
export function cgroupParentDirs(parent: string): string[] {
  const rel = parent.replace(/^\/+/, '');
  const candidates = [join(CGROUP_FS, rel), ...subdirs(CGROUP_FS).map((h) => join(h, rel))];
  return [...new Set(candidates)].filter((d) => {
    try {
      return statSync(d).isDirectory();
    } catch {
      return false;
    }
  });
}

/** Every cgroup directory below `parent` (not `parent` itself), in every hierarchy. */
export function cgroupsUnder(parent: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const child of subdirs(dir)) {
      out.push(child);
      walk(child);
    }
  };
  for (const dir of cgroupParentDirs(parent)) walk(dir);
  return out;
}

/** Removes `parent` and every cgroup below it, deepest first, in every hierarchy (what is busy stays). */
export function removeCgroupParent(parent: string): void {
  const dirs = [...cgroupsUnder(parent), ...cgroupParentDirs(parent)].sort((a, b) => b.length - a.length);
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // still has processes, or gone already
    }
  }
}

/** True when `/proc/<pid>/cgroup` places the process under `parent` (any hierarchy). */
export function inCgroupUnder(pid: number, parent: string): boolean {
  const prefix = `/${parent.replace(/^\/+/, '')}/`;
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .some((line) => (line.split(':')[2] ?? '').startsWith(prefix));
  } catch {
    return false;
  }
}

/** [pid, state, ppid] from /proc/<pid>/stat, or undefined when the process is gone. */
export function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '', ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes whose cgroup is under `parent`. */
export function processesUnderCgroup(parent: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => inCgroupUnder(pid, parent) && procStat(pid)?.state !== 'Z');
}

/** True once `pid` has exited: no such process, or a zombie not yet reaped by its new parent. */
export function exited(pid: number): boolean {
  const stat = procStat(pid);
  return stat === undefined || stat.state === 'Z';
}

