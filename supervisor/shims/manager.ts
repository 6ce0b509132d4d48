/**
 * The live shims, one per task: launching one (`start` with the bundle's log FIFO held open),
 * connecting to it, reattaching after a daemon restart, letting it go once its task is deleted, and
 * cleaning up after one that died (the `delete` action, then its socket if nothing answers there).
 *
 * A shim whose connection closes while it is registered and not being released is reported once
 * through `onLost` — the task manager then treats its task as dead, as containerd does.
 */
import { existsSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import type { Native } from '../../native';
import { runcOptions, wellKnown } from '../../proto/index';
import type { DaemonConfig } from '../config';
import { tsruncBinary } from '../config';
import type { ContainerRecord, ShimRecord } from '../store/types';
import { type Logger, errorMessage } from '../util/log';
import { type Bootstrap, socketPathOf } from './bootstrap';
import { logFifoPath } from './bundle';
import { type DeleteResult, type ShimInvocation, runDelete, runStart } from './launcher';
import { ShimLogFifo } from './log-fifo';
import { Shim } from './shim';

/** The runtime options type URL every runc-based shim understands. */
export const RUNC_OPTIONS_TYPE_URL = 'containerd.runc.v1.Options';

interface Live {
  readonly shim: Shim;
  releasing: boolean;
}

/** What the manager needs. */
export interface ShimManagerDeps {
  readonly config: DaemonConfig;
  readonly native: Pick<Native, 'pipe' | 'close' | 'mkfifo'>;
  readonly log: Logger;
  /** A registered shim's connection closed unexpectedly (it died). */
  readonly onLost: (id: string) => void;
}

/** The shims of the daemon's tasks. */
export class ShimManager {
  private readonly live = new Map<string, Live>();
  private readonly fifos = new Map<string, ShimLogFifo>();
  /** Tasks whose shim's connection closed unexpectedly, until `release` (cleanupDead releases first). */
  private readonly lost = new Set<string>();
  private closing = false;

  constructor(private readonly deps: ShimManagerDeps) {}

  /** The connected shim of task `id`, if any. */
  get(id: string): Shim | undefined {
    return this.live.get(id)?.shim;
  }

  /** True when the shim of task `id` died (its connection closed unexpectedly) and was not cleaned up yet. */
  isLost(id: string): boolean {
    return this.lost.has(id);
  }

  /** The runtime options: `containerd.runc.v1.Options` with runc's state under our root. */
  runtimeOptions(): wellKnown.Any {
    const value = runcOptions.Options.encode(runcOptions.Options.create({ root: this.deps.config.paths.runcRoot })).finish();
    return wellKnown.Any.create({ typeUrl: RUNC_OPTIONS_TYPE_URL, value });
  }

  /** How the shim binary of `record` is run. */
  invocation(record: ContainerRecord, binary = record.runtimeBinary): ShimInvocation {
    const { paths, binDir } = this.deps.config;
    return {
      binary,
      namespace: record.namespace,
      id: record.id,
      bundle: record.bundle,
      address: paths.apiSocket,
      publishBinary: tsruncBinary(binDir),
      ttrpcAddress: paths.eventsSocket,
    };
  }

  /** Opens the bundle's log FIFO (creating it) and runs `start`; returns the bootstrap reply. */
  async launch(record: ContainerRecord): Promise<Bootstrap> {
    this.openFifo(record);
    const options = wellKnown.Any.encode(this.runtimeOptions()).finish();
    return runStart(this.invocation(record), options, this.deps.native);
  }

  /** Connects to a launched shim and registers it. */
  async connect(id: string, namespace: string, where: ShimRecord | Bootstrap): Promise<Shim> {
    const shim = await Shim.connect(where, namespace);
    this.register(id, shim);
    return shim;
  }

  /**
   * After a daemon restart: reopens the log FIFO and reconnects; alive means the shim answers
   * `Connect` within 5 s (containerd's probe). Undefined when it does not (it is dead).
   */
  async attach(record: ContainerRecord): Promise<Shim | undefined> {
    if (record.shim === undefined) return undefined;
    let shim: Shim;
    try {
      shim = await Shim.connect(record.shim, record.namespace);
    } catch (err) {
      this.deps.log.info('shim does not answer', { id: record.id, address: record.shim.address, err: errorMessage(err) });
      return undefined;
    }
    try {
      await shim.connect(record.id);
    } catch (err) {
      this.deps.log.info('shim connection probe failed', { id: record.id, err: errorMessage(err) });
      await shim.close();
      return undefined;
    }
    if (existsSync(record.bundle)) this.openFifo(record);
    this.register(record.id, shim);
    return shim;
  }

  /** Lets go of a task's shim after its task was deleted: close the connection and the log FIFO. */
  async release(id: string): Promise<void> {
    this.lost.delete(id);
    const live = this.live.get(id);
    if (live !== undefined) {
      live.releasing = true;
      this.live.delete(id);
      await live.shim.close();
    }
    this.fifos.get(id)?.close();
    this.fifos.delete(id);
  }

  /** Marks the shim as going away on purpose (its Shutdown closes the connection). */
  releasing(id: string): void {
    const live = this.live.get(id);
    if (live !== undefined) live.releasing = true;
  }

  /**
   * Cleans up after a dead shim: `delete` in its bundle (kills what is left of the container,
   * reports pid and exit status, 137 from runc shims), then its socket file if nothing answers.
   */
  async cleanupDead(record: ContainerRecord): Promise<DeleteResult> {
    await this.release(record.id);
    const binary = record.shim?.binary ?? record.runtimeBinary;
    let result: DeleteResult;
    if (!existsSync(record.bundle)) {
      result = { pid: record.pid, exitStatus: 255, exitedAt: new Date(), warnings: 'bundle is gone' };
    } else {
      try {
        result = await runDelete(this.invocation(record, binary), this.deps.native);
      } catch (err) {
        this.deps.log.warn('shim delete failed', { id: record.id, err: errorMessage(err) });
        result = { pid: 0, exitStatus: 255, exitedAt: new Date(), warnings: errorMessage(err) };
      }
    }
    if (result.warnings !== '') this.deps.log.info('shim delete warnings', { id: record.id, warnings: result.warnings });
    if (record.shim !== undefined) await removeStaleSocket(socketPathOf(record.shim.address));
    return result;
  }

  /** Daemon shutdown: close every connection and FIFO; shims and containers keep running. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const all = [...this.live.values()];
    this.live.clear();
    for (const l of all) l.releasing = true;
    await Promise.all(all.map((l) => l.shim.close()));
    for (const f of this.fifos.values()) f.close();
    this.fifos.clear();
  }

  private register(id: string, shim: Shim): void {
    const live: Live = { shim, releasing: false };
    this.live.set(id, live);
    this.lost.delete(id);
    void shim.closed.then(() => {
      if (live.releasing || this.closing) return;
      if (this.live.get(id) !== live) return; // replaced already: not the task's shim any more
      this.live.delete(id);
      this.lost.add(id);
      this.deps.log.warn('shim connection lost', { id });
      this.deps.onLost(id);
    });
  }

  private openFifo(record: ContainerRecord): void {
    if (this.fifos.has(record.id)) return;
    const fifo = ShimLogFifo.open(logFifoPath(record.bundle), this.deps.native, this.deps.log.child(`shim ${record.id}`));
    this.fifos.set(record.id, fifo);
  }
}

/** Removes a unix socket file nobody listens on (a dead shim's); keeps one that answers. */
export async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const answers = await new Promise<boolean>((resolve) => {
    const socket = net.createConnection({ path });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(true)); // slow but there: leave it
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (!answers) rmSync(path, { force: true });
}
