/**
 * Stats (PROTOCOL §7.15, §11): the cgroup metrics of a container, packed as the Any containerd
 * expects — `io.containerd.cgroups.v1.Metrics` on a legacy or hybrid host (this one),
 * `io.containerd.cgroups.v2.Metrics` on a unified one. `ctr task metrics` accepts nothing else.
 *
 * The container's cgroup is resolved once, from its init's /proc/<pid>/cgroup, when the task
 * layer reports the container created (`track`, at Create: the init exists and is already in its
 * cgroup), and forgotten when it reports the container deleted (`forget`). A container that is
 * not tracked, whose cgroup could not be resolved, or whose cgroup directories are gone, has no
 * stats: NotFound `cgroup does not exist`, as Go's shim answers.
 */
import { existsSync } from 'node:fs';
import { METRICS_V1_TYPE_URL, METRICS_V2_TYPE_URL, cgroupsV1, cgroupsV2, packMessage, type wellKnown } from '../../proto';
import { ShimError } from '../util/errors';
import { type Logger, errorMessage, silentLogger } from '../util/log';
import { type CgroupHost, type CgroupPaths, cgroupDirs, resolveCgroup, systemHost } from './paths';
import { readV1Metrics } from './v1';
import { readV2Metrics } from './v2';

/** Where CgroupStats reads the host (tests pass fixtures). */
export interface CgroupStatsOptions {
  host?: CgroupHost;
  /** /proc/partitions (blkio device names). */
  partitions?: string;
  log?: Logger;
}

/** What is known of one tracked container: its cgroup, once resolved. */
interface Tracked {
  paths: CgroupPaths | undefined;
}

/** The containers' cgroups, and their metrics for Stats. */
export class CgroupStats {
  private readonly tracked = new Map<string, Tracked>();
  private readonly host: CgroupHost;
  private readonly partitions: string;
  private readonly log: Logger;

  constructor(options: CgroupStatsOptions = {}) {
    this.host = options.host ?? systemHost();
    this.partitions = options.partitions ?? '/proc/partitions';
    this.log = options.log ?? silentLogger;
  }

  /**
   * Records container `id` and resolves its cgroup from `pid` (its init). Never throws: a cgroup
   * that cannot be resolved now is retried at the first Stats, while the init still runs.
   * Returns the cgroup (for the OOM watcher), or undefined.
   */
  track(id: string, pid: number): CgroupPaths | undefined {
    const entry: Tracked = { paths: this.resolve(id, pid) };
    this.tracked.set(id, entry);
    return entry.paths;
  }

  /** Forgets a deleted container: its Stats are NotFound from now on. */
  forget(id: string): void {
    this.tracked.delete(id);
  }

  /** The resolved cgroup of a tracked container. */
  paths(id: string): CgroupPaths | undefined {
    return this.tracked.get(id)?.paths;
  }

  /** The metrics Any of container `target.id`; NotFound when it has no (more) cgroup. */
  async stats(target: { id: string; pid: number }): Promise<wellKnown.Any.$Properties> {
    const entry = this.tracked.get(target.id);
    if (entry) entry.paths ??= this.resolve(target.id, target.pid);
    const paths = entry?.paths;
    if (!paths || !cgroupDirs(paths).some((dir) => existsSync(dir))) throw new ShimError('notFound', 'cgroup does not exist');
    if (paths.version === 2) return packMessage(METRICS_V2_TYPE_URL, cgroupsV2().Metrics, await readV2Metrics(paths.dir));
    return packMessage(METRICS_V1_TYPE_URL, cgroupsV1().Metrics, await readV1Metrics(paths.controllers, { partitions: this.partitions }));
  }

  private resolve(id: string, pid: number): CgroupPaths | undefined {
    if (!(pid > 0)) return undefined;
    try {
      return resolveCgroup(pid, this.host);
    } catch (err) {
      this.log.warn('cannot resolve the cgroup of the container', { task: id, pid, error: errorMessage(err) });
      return undefined;
    }
  }
}
