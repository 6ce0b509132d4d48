/**
 * Runs our shim binary the way containerd does (PROTOCOL §2.3, §4.1) without containerd: a bundle
 * with config.json and a `log` FIFO held open O_RDWR by the test, `start` / `delete` with
 * containerd's argv and environment, stdout+stderr of `start` read as one pipe.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, constants as fs } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { BIN, SHIM_SOCKET_DIR, cleanEnv } from './containerd';
import { shimSocketPath } from './containerd';

export const SHIM = join(BIN, 'containerd-shim-tsrunc-v2');

export interface FakeBundle {
  dir: string;
  bundle: string;
  id: string;
  namespace: string;
  /** The containerd address the shim is told (nothing listens there). */
  address: string;
  /** fd of the log FIFO, held O_RDWR|O_NONBLOCK as containerd holds it. */
  logFd: number;
  socket: string;
  remove(): void;
}

/** A bundle as containerd prepares it for `start`, minus a real rootfs. */
export function fakeBundle(id: string, namespace: string, annotations: Record<string, string> = {}): FakeBundle {
  const dir = mkdtempSync('/tmp/tsshim-');
  const bundle = join(dir, id);
  mkdirSync(join(bundle, 'rootfs'), { recursive: true, mode: 0o711 });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations }));
  loadNative().mkfifo(join(bundle, 'log'), 0o700);
  const logFd = openSync(join(bundle, 'log'), fs.O_RDWR | fs.O_NONBLOCK);
  const address = join(dir, 'c.sock');
  return {
    dir,
    bundle,
    id,
    namespace,
    address,
    logFd,
    socket: shimSocketPath(address, namespace, annotations['io.containerd.runc.v2.group'] ?? annotations['io.kubernetes.cri.sandbox-id'] ?? id),
    remove() {
      try {
        closeSync(logFd);
      } catch {
        // closed already
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ActionResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  ms: number;
}

/** containerd's argv for `start` / `delete` of the bundle's task (PROTOCOL §2.3, §4.1). */
export function actionArgs(b: FakeBundle, action: 'start' | 'delete', debug = false): string[] {
  const args = ['-namespace', b.namespace, '-address', b.address, '-publish-binary', '/usr/bin/containerd', '-id', b.id];
  if (action === 'delete') args.push('-bundle', b.bundle);
  if (debug) args.push('-debug');
  args.push(action);
  return args;
}

/** Runs `containerd-shim-tsrunc-v2 … ACTION` in the bundle. `start` gets one pipe for stdout and stderr, as Go's CombinedOutput. */
export function shimAction(b: FakeBundle, action: 'start' | 'delete', options: { stdin?: Buffer; env?: Record<string, string>; debug?: boolean } = {}): Promise<ActionResult> {
  const args = actionArgs(b, action, options.debug);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      SHIM,
      args,
      { cwd: b.bundle, env: cleanEnv({ TTRPC_ADDRESS: `${b.address}.ttrpc`, ...options.env }), encoding: 'buffer', timeout: 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
    // an action may exit without reading its stdin (a delete answered from the bundle): not an error
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.stdin ?? Buffer.alloc(0));
  });
}

/** The daemon pid `start` recorded. */
export function shimPid(b: FakeBundle): number {
  return Number(readFileSync(join(b.bundle, 'shim.pid'), 'utf8'));
}

export { SHIM_SOCKET_DIR };
