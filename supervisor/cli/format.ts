/**
 * How the CLI shows things: tables a person reads (docker-like status and age columns) and plain
 * JSON objects for `--json` (camelCase keys, ISO times, status as a word).
 */
import { api } from '../api/convert';
import { fromTimestamp, isZero } from '../../proto/time';

/** A timestamp field of a message as a Date, or undefined when unset. */
export function dateOf(ts: api.Container['createdAt']): Date | undefined {
  return ts == null || isZero(ts) ? undefined : fromTimestamp(ts);
}

/** The status word of a container. */
export function statusWord(status: api.Status): string {
  switch (status) {
    case api.Status.STATUS_CREATED:
      return 'created';
    case api.Status.STATUS_RUNNING:
      return 'running';
    case api.Status.STATUS_STOPPED:
      return 'exited';
    case api.Status.STATUS_PAUSED:
      return 'paused';
    case api.Status.STATUS_PAUSING:
      return 'pausing';
    case api.Status.STATUS_UNKNOWN:
      return 'unknown';
  }
}

/** "5 seconds", "About a minute", "3 hours" — docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

/** The STATUS column: "Up 5 seconds", "Exited (0) 3 seconds ago", "Created". */
export function statusText(c: api.Container, now = Date.now()): string {
  switch (c.status) {
    case api.Status.STATUS_RUNNING: {
      const started = dateOf(c.startedAt);
      return started === undefined ? 'Up' : `Up ${humanDuration(now - started.getTime())}`;
    }
    case api.Status.STATUS_STOPPED: {
      if (c.restartAt != null) {
        const since = dateOf(c.exitedAt);
        return `Restarting (${c.exitStatus})${since === undefined ? '' : ` ${humanDuration(now - since.getTime())} ago`}`;
      }
      const exited = dateOf(c.exitedAt);
      return `Exited (${c.exitStatus})${exited === undefined ? '' : ` ${humanDuration(now - exited.getTime())} ago`}${c.error === '' ? '' : ' *'}`;
    }
    case api.Status.STATUS_CREATED:
      return 'Created';
    case api.Status.STATUS_PAUSED: {
      const started = dateOf(c.startedAt);
      return started === undefined ? 'Up (Paused)' : `Up ${humanDuration(now - started.getTime())} (Paused)`;
    }
    case api.Status.STATUS_PAUSING:
    case api.Status.STATUS_UNKNOWN:
      return statusWord(c.status);
  }
}

/** A command line for display (docker's COMMAND column): the arguments joined, cut to `max` characters, quoted. */
export function commandText(args: readonly string[], max = 30): string {
  const text = args.join(' ');
  return JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text);
}

/** A table: columns padded to their widest cell, separated by three spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The `ps` table. */
export function psTable(containers: readonly api.Container[], now = Date.now()): string {
  return table(
    ['NAME', 'CONTAINER ID', 'STATUS', 'PID', 'RUNTIME', 'CREATED', 'COMMAND'],
    containers.map((c) => {
      const created = dateOf(c.createdAt);
      return [
        c.name,
        c.id,
        statusText(c, now),
        c.status === api.Status.STATUS_RUNNING || c.status === api.Status.STATUS_PAUSED ? String(c.pid) : '-',
        c.runtime,
        created === undefined ? '' : `${humanDuration(now - created.getTime())} ago`,
        commandText(c.args),
      ];
    }),
  );
}

function iso(ts: api.Container['createdAt']): string | null {
  return dateOf(ts)?.toISOString() ?? null;
}

/** A container as a plain JSON object (for --json and inspect). */
export function containerJson(c: api.Container): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    status: statusWord(c.status),
    pid: c.pid,
    exitStatus: c.status === api.Status.STATUS_STOPPED ? c.exitStatus : null,
    error: c.error === '' ? null : c.error,
    oomKilled: c.oomKilled,
    createdAt: iso(c.createdAt),
    startedAt: iso(c.startedAt),
    exitedAt: iso(c.exitedAt),
    runtime: c.runtime,
    runtimeBinary: c.runtimeBinary,
    namespace: c.namespace,
    args: c.args,
    env: c.env,
    cwd: c.cwd,
    rootfs: c.rootfs,
    bundle: c.bundle,
    logDir: c.logDir,
    logConfig: c.logConfig == null ? null : { maxSize: Number(c.logConfig.maxSize), maxFiles: c.logConfig.maxFiles },
    autoRemove: c.autoRemove,
    restartPolicy: c.restartPolicy == null ? null : { name: c.restartPolicy.name, maxRetries: c.restartPolicy.maxRetries },
    restartCount: c.restartCount,
    restarting: c.restartAt != null,
    labels: c.labels,
    resources: resourcesJson(c.resources),
    shim: c.shim == null ? null : { address: c.shim.address, version: c.shim.version, protocol: c.shim.protocol, binary: c.shim.binary },
  };
}

function resourcesJson(r: api.IResources | null | undefined): Record<string, number | null> {
  const n = (v: api.IResources['memory']): number | null => (v == null ? null : Number(v.toString()));
  return { memory: n(r?.memory), nanoCpus: n(r?.nanoCpus), pidsLimit: n(r?.pidsLimit) };
}

/** An event as one line a person reads. */
export function eventLine(e: api.Event): string {
  const when = dateOf(e.timestamp)?.toISOString() ?? '';
  const who = e.containerName === '' ? e.containerId : `${e.containerName} (${e.containerId})`;
  const extra = [
    e.execId === '' ? '' : `exec_id=${e.execId}`,
    e.pid === 0 ? '' : `pid=${e.pid}`,
    e.topic === '/tasks/exit' || e.topic === '/tasks/delete' ? `exit_status=${e.exitStatus}` : '',
  ].filter((s) => s !== '');
  return `${when} ${e.namespace} ${e.topic} ${who}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}`;
}

/** An event as a JSON object (one per line with --json). */
export function eventJson(e: api.Event): Record<string, unknown> {
  return {
    timestamp: iso(e.timestamp),
    namespace: e.namespace,
    topic: e.topic,
    containerId: e.containerId,
    containerName: e.containerName,
    execId: e.execId === '' ? null : e.execId,
    pid: e.pid,
    exitStatus: e.exitStatus,
    exitedAt: iso(e.exitedAt),
  };
}
