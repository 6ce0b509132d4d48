/**
 * The OCI runtime spec (config.json) of a task: generated when `run` gives only a root filesystem,
 * or taken from a given bundle and adjusted. The generated spec is containerd's default Linux spec
 * (oci.populateDefaultUnixSpec) — busybox-friendly: a writable root, the default capability set,
 * new pid, mount, ipc, uts and network namespaces, the usual /proc, /dev, /sys mounts, masked and
 * read-only kernel paths — with a cgroups path of our own, `/tsrunc/<namespace>/<id>`.
 */
import { isAbsolute, resolve } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';

/** The default PATH of a container, as containerd sets it. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** An OCI spec as JSON (only the parts we touch are typed). */
export interface OciSpec {
  ociVersion?: string;
  process?: { args?: string[]; env?: string[]; cwd?: string; terminal?: boolean; [key: string]: unknown };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  linux?: { cgroupsPath?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** What a generated spec is made from. */
export interface SpecInput {
  readonly id: string;
  readonly namespace: string;
  readonly rootfs: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
}

/** The cgroup of a task: `/tsrunc/<namespace>/<id>` (cgroupfs driver). */
export function cgroupsPathOf(namespace: string, id: string): string {
  return `/tsrunc/${namespace}/${id}`;
}

/** containerd's default Linux spec for `input`. */
export function generateSpec(input: SpecInput): OciSpec {
  if (input.args.length === 0) throw new ErrdefsError('invalidArgument', 'a command is required (after --) when only a root filesystem is given');
  const caps = [...CAPABILITIES];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...input.args],
      env: mergeEnv([DEFAULT_PATH_ENV], input.env),
      cwd: input.cwd === '' ? '/' : input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: cgroupsPathOf(input.namespace, input.id),
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/**
 * A user's bundle spec made ours: root.path absolute (relative to the bundle it came from), args,
 * env and cwd overridden when given, our cgroups path when it names none, no terminal (part 1).
 */
export function adoptSpec(spec: OciSpec, from: { bundleDir: string; id: string; namespace: string; args: readonly string[]; env: readonly string[]; cwd: string }): OciSpec {
  if (spec.root === undefined || typeof spec.root.path !== 'string' || spec.root.path === '') {
    throw new ErrdefsError('invalidArgument', `${from.bundleDir}/config.json has no root.path`);
  }
  const out: OciSpec = { ...spec, root: { ...spec.root, path: isAbsolute(spec.root.path) ? spec.root.path : resolve(from.bundleDir, spec.root.path) } };
  const process = { ...(spec.process ?? {}) };
  if (from.args.length > 0) process.args = [...from.args];
  if ((process.args ?? []).length === 0) throw new ErrdefsError('invalidArgument', `${from.bundleDir}/config.json has no process.args and no command was given`);
  process.env = mergeEnv(process.env ?? [], from.env);
  if (from.cwd !== '') process.cwd = from.cwd;
  process.cwd ??= '/';
  process.terminal = false;
  out.process = process;
  const linux = { ...(spec.linux ?? {}) };
  if (linux.cgroupsPath === undefined || linux.cgroupsPath === '') linux.cgroupsPath = cgroupsPathOf(from.namespace, from.id);
  out.linux = linux;
  return out;
}

/** `base` with each KEY=VALUE of `extra` added or replacing the same KEY. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const keyOf = (kv: string): string => (kv.includes('=') ? kv.slice(0, kv.indexOf('=')) : kv);
  const out = [...base];
  for (const kv of extra) {
    const i = out.findIndex((e) => keyOf(e) === keyOf(kv));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}
