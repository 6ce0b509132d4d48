/** Stats of a container: the cgroup metrics Any containerd expects (PROTOCOL §11). */
import { type wellKnown } from '../../proto';

/** Produces the Stats Any of a container from its init's cgroup. */
export interface StatsProvider {
  stats(target: { id: string; pid: number }): Promise<wellKnown.Any.$Properties>;
}
