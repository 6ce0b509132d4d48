import assert from 'node:assert/strict';
import { parseSince } from '../../../supervisor/cli/commands';
import { UsageError } from '../../../supervisor/cli/args';
import { Tail, isSince, linesOf } from '../../../supervisor/logging/lines';
import { BACKOFF_MAX_MS, backoffMs, formatRestartPolicy, nextStreak, parseRestartPolicy, shouldRestart } from '../../../supervisor/tasks/restart-policy';

describe('supervisor: restart policies', () => {
  it('parses no, always, on-failure and on-failure:N; refuses the rest', () => {
    assert.deepEqual(parseRestartPolicy('no'), { name: 'no', maxRetries: 0 });
    assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maxRetries: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maxRetries: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:5'), { name: 'on-failure', maxRetries: 5 });
    for (const bad of ['', 'sometimes', 'always:3', 'on-failure:', 'on-failure:0', 'on-failure:-1', 'on-failure:2:3', 'unless-stopped']) assert.throws(() => parseRestartPolicy(bad), /invalid restart/, bad);
    assert.equal(formatRestartPolicy({ name: 'on-failure', maxRetries: 5 }), 'on-failure:5');
  });

  it('decides as docker: on-failure only for non-zero exits and within N; never after stop or with --rm', () => {
    const r = (name: string, maxRetries: number, restartCount = 0, manualStop = false, autoRemove = false) => ({ restartPolicy: { name, maxRetries }, restartCount, manualStop, autoRemove });
    assert.equal(shouldRestart(r('no', 0), 1), false);
    assert.equal(shouldRestart(r('always', 0), 0), true);
    assert.equal(shouldRestart(r('on-failure', 0), 0), false);
    assert.equal(shouldRestart(r('on-failure', 0, 100), 137), true);
    assert.equal(shouldRestart(r('on-failure', 2, 1), 3), true);
    assert.equal(shouldRestart(r('on-failure', 2, 2), 3), false);
    assert.equal(shouldRestart(r('always', 0, 0, true), 1), false);
    assert.equal(shouldRestart(r('always', 0, 0, false, true), 1), false);
  });

  it('backs off 100 ms doubling to 10 s, and starts over after a task that ran 10 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7, 8, 50].map(backoffMs), [100, 200, 400, 800, 1600, 6400, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
    assert.equal(nextStreak({ restartStreak: 4, startedAt: at(0), exitedAt: at(500) }), 5);
    assert.equal(nextStreak({ restartStreak: 4, startedAt: at(0), exitedAt: at(10_000) }), 1);
    assert.equal(nextStreak({}), 1);
  });
});

describe('supervisor: logs --since, --tail and lines', () => {
  it('--since takes durations before now and RFC 3339 times', () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0);
    assert.equal(parseSince('10s', now), now - 10_000);
    assert.equal(parseSince('1h30m', now), now - 5_400_000);
    assert.equal(parseSince('250ms', now), now - 250);
    assert.equal(parseSince('2026-11-23T11:00:00Z', now), now - 3_600_000);
    for (const bad of ['yesterday', '10', '5 m', '2026-11-23']) assert.throws(() => parseSince(bad, now), UsageError, bad);
  });

  it('splits a record into lines that keep their newline, a trailing fragment alone', () => {
    const lines = linesOf({ kind: 'data', stream: 'stdout', log: 'a\nbb\nccc', time: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual(lines.map((l) => l.text), ['a\n', 'bb\n', 'ccc']);
    assert.deepEqual(linesOf({ kind: 'mark', mark: 'eof', time: '' }), []);
    assert.equal(isSince(lines[0]!, Date.parse('2026-01-01T00:00:00.000Z')), true);
    assert.equal(isSince(lines[0]!, Date.parse('2026-01-01T00:00:00.001Z')), false);
    const tail = new Tail(2);
    for (const l of lines) tail.push(l);
    assert.deepEqual(tail.lines().map((l) => l.text), ['bb\n', 'ccc']);
    const none = new Tail(0);
    none.push(lines[0]!);
    assert.deepEqual(none.lines(), []);
  });
});
