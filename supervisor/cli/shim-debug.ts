/**
 * `tsrunc shim CONTAINER state|pids [--json]`: talks ttrpc straight to the container's shim, as
 * `ctr shim` does — to see what the shim itself says, whatever the daemon recorded. The daemon
 * only tells where the shim is (its bootstrap address and protocol version).
 */
import { api } from '../api/convert';
import { runcOptions, taskTypes } from '../../proto/index';
import { fromTimestamp } from '../../proto/time';
import { Shim } from '../shims/shim';
import { UsageError, parseArgs } from './args';
import type { Command } from './context';

const STATUS_WORDS: Record<number, string> = {
  [taskTypes.Status.UNKNOWN]: 'unknown',
  [taskTypes.Status.CREATED]: 'created',
  [taskTypes.Status.RUNNING]: 'running',
  [taskTypes.Status.STOPPED]: 'stopped',
  [taskTypes.Status.PAUSED]: 'paused',
  [taskTypes.Status.PAUSING]: 'pausing',
};

export const shim: Command = async (ctx, argv) => {
  const a = parseArgs(argv, [{ names: ['--json'], kind: 'bool', key: 'json' }], false);
  const [ref, what, ...extra] = a.positionals;
  if (ref === undefined || (what !== 'state' && what !== 'pids') || extra.length > 0) throw new UsageError('usage: tsrunc shim CONTAINER state|pids [--json]');
  const c = (await ctx.client().call('inspect', api.InspectRequest.create({ ref }))).container as api.Container | null;
  if (c == null) throw new UsageError(`no such container: ${ref}`);
  if (c.shim == null || c.shim.address === '') throw new UsageError(`container ${c.name} has no shim (it is ${c.status === api.Status.STATUS_STOPPED ? 'stopped' : 'not running'})`);
  const where = { address: c.shim.address ?? '', version: c.shim.version === 3 ? (3 as const) : (2 as const), protocol: 'ttrpc' as const, binary: c.shim.binary ?? '' };
  const client = await Shim.connect(where, c.namespace);
  try {
    if (what === 'state') {
      const s = await client.state(c.id);
      const view = {
        id: s.id,
        bundle: s.bundle,
        pid: s.pid,
        status: STATUS_WORDS[s.status] ?? String(s.status),
        stdin: s.stdin,
        stdout: s.stdout,
        stderr: s.stderr,
        terminal: s.terminal,
        exitStatus: s.exitStatus,
        exitedAt: s.exitedAt == null || s.status !== taskTypes.Status.STOPPED ? null : fromTimestamp(s.exitedAt).toISOString(),
      };
      if (a.bools.has('json')) ctx.out(`${JSON.stringify(view, null, 2)}\n`);
      else ctx.out(Object.entries(view).map(([k, v]) => `${k.padEnd(11)}${v === null || v === '' ? '-' : String(v)}\n`).join(''));
    } else {
      const p = await client.pids(c.id);
      const rows = p.processes.map((info) => ({ pid: info.pid, execId: info.info?.value == null || info.info.value.length === 0 ? null : runcOptions.ProcessDetails.decode(info.info.value).execId || null }));
      if (a.bools.has('json')) ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
      else ctx.out(`PID      EXEC ID\n${rows.map((r) => `${String(r.pid).padEnd(8)} ${r.execId ?? '-'}\n`).join('')}`);
    }
  } finally {
    await client.close();
  }
  return 0;
};
