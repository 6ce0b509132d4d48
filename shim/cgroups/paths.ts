/**
 * Which cgroup a container is in (PROTOCOL §11.1): resolved once from its init's
 * `/proc/<pid>/cgroup`, while the init exists (at Create).
 *
 * - unified host (/sys/fs/cgroup is cgroup2): the `0::<path>` line, under /sys/fs/cgroup;
 * - legacy or hybrid host (as here): v1 is authoritative — one directory per controller, each the
 *   controller's line joined onto the mount point of the hierarchy holding that controller (from
 *   /proc/self/mountinfo, so comounted `cpu,cpuacct` and separate `cpu` / `cpuacct` hierarchies
 *   both resolve). The cgroup2 tree a hybrid host also mounts is ignored, as Go's shim does.
 *
 * Everything here is synchronous and small (procfs reads), and injectable (`CgroupHost`) so the
 * unit tests resolve against fixture trees.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { isUnified } from './join';

/** A container's cgroup: per-controller directories (v1) or one directory (v2). */
export type CgroupPaths = { readonly version: 1; readonly controllers: ReadonlyMap<string, string> } | { readonly version: 2; readonly dir: string };

/** What resolution reads from the host; the system one by default, fixtures in tests. */
export interface CgroupHost {
  /** True when the host runs cgroup v2 only (unified mode). */
  unified(): boolean;
  /** Where the cgroup2 hierarchy is mounted in unified mode. */
  readonly unifiedRoot: string;
  /** The text of `/proc/<pid>/cgroup`. */
  procCgroup(pid: number): string;
  /** The text of `/proc/self/mountinfo`. */
  mountinfo(): string;
}

/** The real host: /proc and /sys/fs/cgroup. The mount table is read once (cgroup mounts do not move). */
export function systemHost(): CgroupHost {
  let mounts: string | undefined;
  let unified: boolean | undefined;
  return {
    unified: () => (unified ??= isUnified()),
    unifiedRoot: '/sys/fs/cgroup',
    procCgroup: (pid) => readFileSync(`/proc/${pid}/cgroup`, 'utf8'),
    mountinfo: () => (mounts ??= readFileSync('/proc/self/mountinfo', 'utf8')),
  };
}

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controller-list:path`. */
export interface ProcCgroupLine {
  hierarchy: number;
  /** Controllers of the hierarchy (`name=systemd` included as is); empty for the cgroup2 line. */
  controllers: string[];
  path: string;
}

/** Parses /proc/<pid>/cgroup. */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const lines: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    lines.push({ hierarchy: Number(line.slice(0, first)), controllers: list === '' ? [] : list.split(','), path: line.slice(second + 1) });
  }
  return lines;
}

/** A cgroup v1 mount: its controllers, the cgroup path it exposes (`root`) and where. */
export interface CgroupMount {
  controllers: string[];
  root: string;
  mountPoint: string;
}

/** The cgroup v1 mounts of a mountinfo text (fstype `cgroup`; cgroup2 mounts are left out). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(' ');
    const [fstype, , superOptions] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' || before.length < 5) continue;
    const options = (superOptions ?? '').split(',');
    mounts.push({ controllers: options.filter((o) => o !== 'rw' && o !== 'ro'), root: unescape(before[3] ?? '/'), mountPoint: unescape(before[4] ?? '') });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The directory of cgroup `path` in a hierarchy mounted at `mount` (which exposes `mount.root`). */
function underMount(mount: CgroupMount, path: string): string {
  const rel = posix.relative(mount.root, path);
  // a path outside the mount's root (another cgroup namespace): take it as given, as runc does
  return rel.startsWith('..') ? join(mount.mountPoint, path) : join(mount.mountPoint, rel);
}

/** The v1 controller directories of a process, from its /proc/<pid>/cgroup and the mount table. */
export function v1Paths(procCgroup: string, mountinfo: string): Map<string, string> {
  const mounts = parseCgroupMounts(mountinfo);
  const out = new Map<string, string>();
  for (const line of parseProcCgroup(procCgroup)) {
    for (const controller of line.controllers) {
      if (out.has(controller)) continue;
      const mount = mounts.find((m) => m.controllers.includes(controller));
      if (mount) out.set(controller, underMount(mount, line.path));
    }
  }
  return out;
}

/** The cgroup of `pid`; throws when the process is gone or has no cgroup we can use. */
export function resolveCgroup(pid: number, host: CgroupHost = systemHost()): CgroupPaths {
  if (!(pid > 0)) throw new Error(`no process to resolve a cgroup from (pid ${pid})`);
  const text = host.procCgroup(pid);
  if (host.unified()) {
    const line = parseProcCgroup(text).find((l) => l.hierarchy === 0 && l.controllers.length === 0);
    if (!line) throw new Error(`pid ${pid} has no cgroup2 entry`);
    return { version: 2, dir: join(host.unifiedRoot, line.path) };
  }
  const controllers = v1Paths(text, host.mountinfo());
  if (controllers.size === 0) throw new Error(`pid ${pid} is in no mounted cgroup v1 hierarchy`);
  return { version: 1, controllers };
}

/** Directories of a cgroup (every controller's, for v1). */
export function cgroupDirs(paths: CgroupPaths): string[] {
  return paths.version === 2 ? [paths.dir] : [...new Set(paths.controllers.values())];
}
