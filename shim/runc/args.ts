/**
 * runc command lines, as pure functions (tested as tables). Global flags and their order follow the
 * Go shim (PROTOCOL §9.1): --root <root>/<namespace> --log <bundle>/log.json --log-format json
 * [--criu PATH] [--systemd-cgroup]; per-command flags follow §9.2.
 */

export interface GlobalOptions {
  /** runc root for this namespace (`<Root or /run/containerd/runc>/<namespace>`). */
  root: string;
  /** runc's JSON log, `<bundle>/log.json`. */
  log: string;
  criuPath?: string;
  systemdCgroup?: boolean;
}

export function globalArgs(g: GlobalOptions): string[] {
  const args = ['--root', g.root, '--log', g.log, '--log-format', 'json'];
  if (g.criuPath) args.push('--criu', g.criuPath);
  if (g.systemdCgroup) args.push('--systemd-cgroup');
  return args;
}

export interface CreateArgs {
  id: string;
  bundle: string;
  pidFile: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export function createArgs(o: CreateArgs): string[] {
  const args = ['create', '--bundle', o.bundle, '--pid-file', o.pidFile];
  if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
  if (o.noPivot) args.push('--no-pivot');
  if (o.noNewKeyring) args.push('--no-new-keyring');
  args.push(o.id);
  return args;
}

export function startArgs(id: string): string[] {
  return ['start', id];
}

export interface ExecArgs {
  id: string;
  processFile: string;
  pidFile: string;
  consoleSocket?: string;
}

export function execArgs(o: ExecArgs): string[] {
  const args = ['exec', '--process', o.processFile];
  if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
  args.push('--detach', '--pid-file', o.pidFile, o.id);
  return args;
}

export interface RestoreArgs {
  id: string;
  bundle: string;
  imagePath: string;
  workPath: string;
  pidFile: string;
  parentPath?: string;
  consoleSocket?: string;
  noPivot?: boolean;
}

export function restoreArgs(o: RestoreArgs): string[] {
  const args = ['restore', '--image-path', o.imagePath, '--work-path', o.workPath];
  if (o.parentPath) args.push('--parent-path', o.parentPath);
  args.push('--detach', '--pid-file', o.pidFile);
  if (o.consoleSocket) args.push('--console-socket', o.consoleSocket);
  if (o.noPivot) args.push('--no-pivot');
  // single dash, as the Go shim writes it (runc's flag parser accepts both)
  args.push('-no-subreaper', '--bundle', o.bundle, o.id);
  return args;
}

export function killArgs(id: string, signal: number, all: boolean): string[] {
  return all ? ['kill', '--all', id, String(signal)] : ['kill', id, String(signal)];
}

export function deleteArgs(id: string, force: boolean): string[] {
  return force ? ['delete', '--force', id] : ['delete', id];
}

export function pauseArgs(id: string): string[] {
  return ['pause', id];
}

export function resumeArgs(id: string): string[] {
  return ['resume', id];
}

export function psArgs(id: string): string[] {
  return ['ps', '--format', 'json', id];
}

export function stateArgs(id: string): string[] {
  return ['state', id];
}

export function updateArgs(id: string): string[] {
  return ['update', '--resources', '-', id];
}

export interface CheckpointArgs {
  id: string;
  imagePath: string;
  workPath: string;
  /** false → --leave-running (the container keeps running after the dump). */
  exit: boolean;
  openTcp?: boolean;
  externalUnixSockets?: boolean;
  terminal?: boolean;
  fileLocks?: boolean;
  emptyNamespaces?: readonly string[];
}

export function checkpointArgs(o: CheckpointArgs): string[] {
  const args = ['checkpoint', '--image-path', o.imagePath, '--work-path', o.workPath];
  if (o.openTcp) args.push('--tcp-established');
  if (o.externalUnixSockets) args.push('--ext-unix-sk');
  if (o.terminal) args.push('--shell-job');
  if (o.fileLocks) args.push('--file-locks');
  for (const ns of o.emptyNamespaces ?? []) args.push('--empty-ns', ns);
  if (!o.exit) args.push('--leave-running');
  args.push(o.id);
  return args;
}
