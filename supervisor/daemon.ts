/**
 * The daemon's composition root: state directories and pid file, the record store (loaded), the
 * events endpoint (listening before recovery, so shims can publish while we catch up), recovery of
 * every record, then the API. `stop()` undoes it in reverse; shims and containers keep running.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadNative } from '../native';
import { createHandlers } from './api/handlers';
import { ApiServer } from './api/server';
import { type DaemonConfig, checkSocketPath } from './config';
import { Exchange } from './events/exchange';
import { ForwardService } from './events/forward-service';
import { ShimManager } from './shims/manager';
import { FileBackend } from './store/file-store';
import { Store } from './store/store';
import { TaskManager } from './tasks/task-manager';
import { writeFileAtomic } from './util/atomic-file';
import { type Logger, errorMessage } from './util/log';
import { VERSION } from './version';

/** A running daemon. */
export class Daemon {
  private api: ApiServer | undefined;
  private forward: ForwardService | undefined;
  private tasks: TaskManager | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Logger,
  ) {}

  /** Starts everything; throws (after undoing what started) when something cannot start. */
  async start(): Promise<void> {
    const { paths } = this.config;
    checkSocketPath(paths.apiSocket);
    checkSocketPath(paths.eventsSocket);
    for (const dir of [paths.lib, paths.run]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    claimPidFile(paths.pidFile);
    try {
      const native = loadNative();
      const store = new Store(new FileBackend(paths.containers));
      const records = store.load((file, err) => this.log.error('damaged record set aside', { file, err: errorMessage(err) }));
      const exchange = new Exchange((err) => this.log.warn('event subscriber failed', { err: errorMessage(err) }));
      const shims = new ShimManager({ config: this.config, native, log: this.log.child('shims'), onLost: (id) => this.tasks?.onShimLost(id) });
      const tasks = new TaskManager(this.config, store, shims, exchange, this.log.child('tasks'), native);
      this.tasks = tasks;
      this.forward = new ForwardService(native, (event) => tasks.onForwarded(event), this.log.child('events'));
      await this.forward.listen(paths.eventsSocket);
      this.log.info('recovering', { records: records.length });
      await tasks.recover();
      this.api = new ApiServer(createHandlers({ tasks, exchange, version: VERSION, root: paths.root ?? '', namespace: this.config.namespace }), native, this.log.child('api'));
      await this.api.listen(paths.apiSocket);
      this.log.info('tsrunc daemon ready', { pid: process.pid, socket: paths.apiSocket, namespace: this.config.namespace });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops serving; containers and their shims keep running. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.api?.shutdown().catch((err: unknown) => this.log.warn('API shutdown', { err: errorMessage(err) }));
      // no restart or retry starts now; the shims' events still come in while queued work ends
      // (a teardown waits for its delete event)
      this.tasks?.quiesce();
      await this.tasks?.queue.idle();
      await this.forward?.shutdown().catch((err: unknown) => this.log.warn('events shutdown', { err: errorMessage(err) }));
      await this.tasks?.shutdown();
      rmSync(this.config.paths.pidFile, { force: true });
      this.log.info('tsrunc daemon stopped');
    })();
    return this.stopping;
  }
}

/** Writes our pid file, refusing when another daemon of this root is alive. */
function claimPidFile(path: string): void {
  if (existsSync(path)) {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isTsruncDaemon(pid)) {
      throw new Error(`another tsrunc daemon (pid ${pid}) uses this root (${path})`);
    }
  }
  writeFileAtomic(path, `${process.pid}\n`, 0o644);
}

function isTsruncDaemon(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('daemon') || argv.some((a) => a.endsWith('supervisor/main.js'));
  } catch {
    return false;
  }
}
