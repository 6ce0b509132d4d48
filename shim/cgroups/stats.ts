/** Cgroup metrics for Stats (PROTOCOL §11): placeholder until the metrics collectors land. */
import { type wellKnown } from '../../proto';
import { ShimError } from '../util/errors';

/** Reads a container's cgroup metrics. */
export class CgroupStats {
  stats(_target: { id: string; pid: number }): Promise<wellKnown.Any.$Properties> {
    return Promise.reject(new ShimError('notImplemented', 'stats'));
  }
}
