import assert from 'node:assert/strict';
import { api } from '../../../supervisor/api/convert';
import { UsageError, parseArgs } from '../../../supervisor/cli/args';
import { parseSignal } from '../../../supervisor/cli/commands';
import { commandText, humanDuration, psTable, statusText, table } from '../../../supervisor/cli/format';
import { toTimestamp } from '../../../proto/time';

describe('supervisor/cli', () => {
  const runSpecs = [
    { names: ['-d', '--detach'], kind: 'bool', key: 'detach' },
    { names: ['--rm'], kind: 'bool', key: 'rm' },
    { names: ['-i'], kind: 'bool', key: 'i' },
    { names: ['--name'], kind: 'string', key: 'name' },
    { names: ['-e', '--env'], kind: 'list', key: 'env' },
  ] as const;

  it('parses docker-style options, then leaves the command alone', () => {
    const a = parseArgs(['-d', '--name=web', '-e', 'A=1', '--env', 'B=2', '/bin/sh', '-c', 'echo -d'], runSpecs, true);
    assert.deepEqual([...a.bools], ['detach']);
    assert.equal(a.strings.get('name'), 'web');
    assert.deepEqual(a.lists.get('env'), ['A=1', 'B=2']);
    assert.deepEqual(a.positionals, ['/bin/sh', '-c', 'echo -d']);
    assert.deepEqual(parseArgs(['--rm', '--', '-weird', 'x'], runSpecs, true).positionals, ['-weird', 'x']);
    assert.deepEqual(parseArgs(['web', '--', 'ls', '-l'], [], true).positionals, ['web', 'ls', '-l'], 'exec CONTAINER -- CMD');
    assert.deepEqual([...parseArgs(['-di'], runSpecs, true).bools].sort(), ['detach', 'i'], 'clustered booleans');
  });

  it('reports usage mistakes', () => {
    assert.throws(() => parseArgs(['--nope'], runSpecs, true), UsageError);
    assert.throws(() => parseArgs(['--name'], runSpecs, true), /flag needs an argument: --name/);
    assert.throws(() => parseArgs(['--rm=maybe'], runSpecs, true), UsageError);
  });

  it('parses signals by name or number', () => {
    assert.deepEqual(['KILL', 'SIGTERM', 'usr1', '9'].map(parseSignal), [9, 15, 10, 9]);
    assert.throws(() => parseSignal('SIGNOPE'), UsageError);
    assert.throws(() => parseSignal('99'), UsageError);
  });

  it('shows durations and statuses as docker does', () => {
    assert.deepEqual([200, 1000, 5000, 60_000, 300_000, 3_600_000, 7_200_000, 3 * 86_400_000].map(humanDuration), [
      'Less than a second',
      '1 second',
      '5 seconds',
      'About a minute',
      '5 minutes',
      'About an hour',
      '2 hours',
      '3 days',
    ]);
    const now = Date.parse('2025-01-01T00:01:00Z');
    const at = (iso: string): ReturnType<typeof toTimestamp> => toTimestamp(new Date(iso));
    assert.equal(statusText(api.Container.create({ status: api.Status.STATUS_RUNNING, startedAt: at('2025-01-01T00:00:55Z') }), now), 'Up 5 seconds');
    assert.equal(statusText(api.Container.create({ status: api.Status.STATUS_STOPPED, exitStatus: 137, exitedAt: at('2025-01-01T00:00:00Z') }), now), 'Exited (137) About a minute ago');
    assert.equal(statusText(api.Container.create({ status: api.Status.STATUS_CREATED }), now), 'Created');
  });

  it('prints tables with aligned columns and quoted, shortened commands', () => {
    assert.equal(table(['A', 'BB'], [['xyz', '1'], ['q', '22']]), 'A     BB\nxyz   1\nq     22\n');
    assert.equal(commandText(['/bin/sh', '-c', 'echo "hi"']), '"/bin/sh -c echo \\"hi\\""');
    assert.equal((JSON.parse(commandText(['x'.repeat(50)])) as string).length, 30);
    const out = psTable([api.Container.create({ name: 'web', id: 'abc', status: api.Status.STATUS_RUNNING, pid: 7, runtime: 'io.containerd.runc.v2', args: ['sleep', '1'] })]);
    assert.match(out, /^NAME\s+CONTAINER ID\s+STATUS\s+PID\s+RUNTIME\s+CREATED\s+COMMAND\nweb\s+abc\s+Up\s+7\s+io\.containerd\.runc\.v2\s+"sleep 1"\n$/);
  });
});
