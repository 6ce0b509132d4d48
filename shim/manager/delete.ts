/**
 * The `delete` action (PROTOCOL §4): what containerd runs after every task, and after a dead shim.
 * It must be idempotent and quick (containerd SIGKILLs it after 5 s):
 *
 *  1. `runc delete --force <id>` with the runc binary and root the task was created with
 *     (`runtime`, `options.json`) — kills whatever a dead daemon left running; skipped when runc
 *     holds no state for the id (then it could only answer "does not exist");
 *  2. unmount `<bundle>/rootfs` until it is not a mount point;
 *  3. remove our socket if nothing answers on it any more (a deliberate difference from the 1.6 Go
 *     shim, which leaves it; a live one may serve the rest of a group and is kept);
 *  4. print DeleteResponse{pid from init.pid (missing → 2^32−1), exit_status 137, exited_at now}.
 *
 * A task its daemon deleted cleanly never gets here: the daemon left the answer in the bundle and
 * the script printed it (delete-answer.ts).
 *
 * Warnings go to stderr (containerd logs them); the normal case — the task was deleted already —
 * prints none. koffi is loaded only if there is something to unmount.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { loadSavedOptions, runcBinary, runcRoot } from '../container/options';
import { isMountPoint, unmountAll } from '../container/mounts';
import { type ShimFlags } from '../flags';
import { ExitMonitor, Reaper } from '../reaper';
import { isNotExist, RuncError } from '../runc/errors';
import { Runc, runcStateDir } from '../runc/runc';
import { bundlePathProblem, identifierProblem } from '../util/validate';
import { KILLED_STATUS, deleteResponse } from './delete-answer';
import { isListening, socketPath } from './socket';

/** Runs `delete`; returns the DeleteResponse bytes to print. */
export async function del(flags: ShimFlags, warn: (message: string) => void): Promise<Uint8Array> {
  const problem = identifierProblem(flags.namespace) ?? identifierProblem(flags.id);
  if (problem) throw new Error(`invalid namespace or id: ${problem}`);
  const bundle = flags.bundle || process.cwd();
  const bundleProblem = bundlePathProblem(bundle);
  if (bundleProblem) throw new Error(`invalid bundle "${bundle}": ${bundleProblem}`);

  const options = loadSavedOptions(bundle);
  const root = runcRoot(options, flags.namespace);
  // runc keeps a container's state in <root>/<id>; without it `runc delete --force` can only answer
  // "does not exist" (ignored below), so the usual case — the daemon deleted the task — spawns nothing.
  if (existsSync(runcStateDir(root, flags.id))) {
    // This process never reaps (no subreaper, no SIGCHLD handler): the monitor only spawns runc.
    const monitor = new ExitMonitor(new Reaper({ native: { waitPid: () => null } }));
    const runc = new Runc({ binary: runcBinary(options), root, bundle, monitor, systemdCgroup: options.systemdCgroup, ...(options.criuPath ? { criuPath: options.criuPath } : {}) });
    try {
      await runc.delete(flags.id, true);
    } catch (err) {
      if (!(err instanceof RuncError && isNotExist(err.detail))) warn(`failed to remove runc container: ${(err as Error).message}`);
    }
  }

  const rootfs = join(bundle, 'rootfs');
  if (isMountPoint(rootfs)) {
    try {
      await unmountAll(loadNative(), rootfs);
    } catch (err) {
      warn(`failed to unmount ${rootfs}: ${(err as Error).message}`);
    }
  }

  await removeStaleSocket(bundle, warn);

  return deleteResponse(readPid(join(bundle, 'init.pid')), KILLED_STATUS, Date.now());
}

async function removeStaleSocket(bundle: string, warn: (message: string) => void): Promise<void> {
  let path: string;
  try {
    path = socketPath(readFileSync(join(bundle, 'address'), 'utf8').trim());
  } catch {
    return; // no address (or not a filesystem socket): nothing of ours to remove
  }
  if (await isListening(path)) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`failed to remove socket ${path}: ${(err as Error).message}`);
  }
}

function readPid(path: string): number {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : -1;
  } catch {
    return -1;
  }
}
