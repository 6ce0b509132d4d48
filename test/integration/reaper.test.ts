/**
 * The reaper decision, proven on the real kernel (see shim/reaper/reaper.ts): as child subreaper,
 * orphans re-parented to the process are reaped and reported with pid, status (128+signal for a
 * signal) and time, while hundreds of concurrent child_process children still report every exit.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listChildren } from '../../shim/reaper';
import { requireSystem } from '../helpers/system';

const harness = join(__dirname, '..', 'fixtures', 'reaper-harness.js');

interface HarnessResult {
  subreaper: boolean;
  spawned: { pid: number; expected: number; got: number | null; error?: string }[];
  orphansAnnounced: number[];
  workerOrphan: number;
  orphanExits: { pid: number; status: number; signal?: number; at: string }[];
  zombiesLeft: number[];
}

describe('reaper: subreaper + child_process, zero lost exits', function () {
  this.timeout(60_000);
  let result: HarnessResult;
  const started = BigInt(Date.now()) * 1_000_000n;

  before(async function () {
    requireSystem(this, ['sh']);
    const { stdout } = await promisify(execFile)(process.execPath, [harness, '500', '20'], { maxBuffer: 16 << 20 });
    result = JSON.parse(stdout) as HarnessResult;
  });

  it('the harness process is child subreaper', () => {
    assert.equal(result.subreaper, true);
  });

  it('reports the exit of each of 500 concurrent child_process children, with its status', () => {
    assert.equal(result.spawned.length, 500);
    const wrong = result.spawned.filter((s) => s.got !== s.expected);
    assert.deepEqual(wrong, [], `${wrong.length} lost or wrong exits`);
    assert.ok(result.spawned.some((s) => s.expected === 143), 'some children were killed by SIGTERM (128+15)');
  });

  it('reaps and reports every orphan re-parented to it, with 128+signal for a signal and a time', () => {
    assert.equal(result.orphansAnnounced.length, 40);
    const byPid = new Map(result.orphanExits.map((e) => [e.pid, e]));
    const statuses = result.orphansAnnounced.map((pid) => byPid.get(pid)?.status);
    assert.deepEqual(statuses.filter((s) => s === undefined), [], 'every announced orphan was reported');
    assert.equal(statuses.filter((s) => s === 7).length, 20);
    assert.equal(statuses.filter((s) => s === 137).length, 20);
    for (const pid of result.orphansAnnounced) {
      const e = byPid.get(pid);
      assert.ok(e && BigInt(e.at) >= started, 'exit time recorded');
      if (e?.status === 137) assert.equal(e.signal, 9);
    }
  });

  it('reaps the orphan of a child a worker thread forked (orphans go to the main thread, the only one it reads)', () => {
    assert.ok(result.workerOrphan > 0);
    assert.equal(result.orphanExits.find((e) => e.pid === result.workerOrphan)?.status, 9);
  });

  it('never reports a libuv-owned child as an orphan, and leaves no zombie', () => {
    const spawnedPids = new Set(result.spawned.map((s) => s.pid));
    assert.deepEqual(result.orphanExits.filter((e) => spawnedPids.has(e.pid)), []);
    assert.deepEqual(result.zombiesLeft, []);
  });
});

describe('reaper: listing the children through a kept fd', function () {
  this.timeout(20_000);
  before(function () {
    requireSystem(this, ['sleep']);
  });

  it('lists a child, and still does after its kept fd was closed under it (read the slow way, then reopened)', () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      assert.ok(listChildren().includes(child.pid ?? -1));
      const kept = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).endsWith(`/task/${process.pid}/children`);
        } catch {
          return false;
        }
      });
      assert.equal(kept.length, 1, 'one kept fd of the children file');
      closeSync(Number(kept[0])); // a stray double close elsewhere in the process
      assert.ok(listChildren().includes(child.pid ?? -1), 'listed after the fd was lost');
      assert.ok(listChildren().includes(child.pid ?? -1), 'and again with a new fd');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
