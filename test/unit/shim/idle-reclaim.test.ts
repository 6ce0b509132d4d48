/**
 * The collection once calls stop coming (shim/util/idle-reclaim.ts) under sinon fake timers: none while
 * calls keep coming, one after a quiet second when the daemon owns enough, the malloc trim after it,
 * the idle collection after it, the release of file pages once idle, none after stop(), and nothing
 * at all without `gc` or `release`. Real checks in
 * a Node process: what it owns is read from the kernel, the timers it arms do not keep Node alive,
 * and V8 does shrink the young generation in the idle collection (what that collection is for).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import sinon from 'sinon';
import { FORKING_SPARE_NODE_OPTIONS } from '../../../shim/manager/start';
import { IDLE_MS, OWNED_GROWTH, OWNED_MIN, QUIET_MS, IdleReclaim, ownedMemory } from '../../../shim/util/idle-reclaim';

describe('shim/util/idle-reclaim', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => clock.restore());

  const MiB = 1 << 20;

  /** A collector over a fake process: `own` sets what it owns, a collection leaves it at `left`. */
  function harness(left = 7 * MiB): { q: IdleReclaim; calls: string[]; own: (bytes: number) => void } {
    let owned = 4 * MiB;
    const calls: string[] = [];
    const q = new IdleReclaim({
      gc: () => {
        calls.push('gc');
        owned = left;
      },
      trim: () => calls.push('trim'),
      owned: () => owned,
    });
    return { q, calls, own: (bytes) => (owned = bytes) };
  }

  it('collects once, a quiet second after the last answer, trims malloc after it, and collects again when idle', () => {
    const { q, calls, own } = harness();
    for (let i = 0; i < 10; i++) {
      own(OWNED_MIN + i * MiB);
      q.touch();
      clock.tick(QUIET_MS - 1); // the next call comes just in time: no collection in a busy run
    }
    assert.deepEqual(calls, []);
    clock.tick(1);
    assert.deepEqual(calls, ['gc', 'trim']);
    assert.equal(q.collections, 1);
    clock.tick(IDLE_MS - QUIET_MS - 1);
    assert.equal(q.collections, 1);
    clock.tick(1);
    assert.deepEqual(calls, ['gc', 'trim', 'gc', 'gc', 'trim'], 'the idle collection, IDLE_MS after the last answer');
    assert.equal(q.idleCollections, 1);
    clock.tick(10 * IDLE_MS);
    assert.equal(q.collections, 2, 'no timer left running while idle');
    assert.equal(clock.countTimers(), 0);
  });

  it('makes the idle collection only after a collection, and not while calls come', () => {
    const { q, calls, own } = harness();
    own(OWNED_MIN - 1);
    q.touch();
    clock.tick(IDLE_MS);
    assert.deepEqual(calls, [], 'a daemon that owns little keeps the pages it shares');
    own(OWNED_MIN);
    q.touch();
    clock.tick(QUIET_MS);
    assert.deepEqual(calls, ['gc', 'trim']);
    // a probe every few seconds: each answer puts the idle collection off
    for (let i = 0; i < 5; i++) {
      clock.tick(IDLE_MS - QUIET_MS - 1000);
      q.touch();
      clock.tick(QUIET_MS);
    }
    assert.equal(q.collections, 1);
    clock.tick(IDLE_MS - QUIET_MS);
    assert.equal(q.idleCollections, 1, 'still due after quiet periods that did not collect');
    q.touch();
    clock.tick(IDLE_MS);
    assert.equal(q.collections, 2, 'once per collection');
  });

  it('collects again only when the daemon owns OWNED_GROWTH more than a collection left it', () => {
    // a group's daemon, which owns more than OWNED_MIN after a collection
    const { q, own } = harness(OWNED_MIN + 2 * MiB);
    own(OWNED_MIN);
    q.touch();
    clock.tick(QUIET_MS);
    assert.equal(q.collections, 1);
    own(OWNED_MIN + 2 * MiB + OWNED_GROWTH - 1);
    q.touch();
    clock.tick(QUIET_MS);
    assert.equal(q.collections, 1);
    own(OWNED_MIN + 2 * MiB + OWNED_GROWTH);
    q.touch();
    clock.tick(QUIET_MS);
    assert.equal(q.collections, 2);
    // and never below OWNED_MIN, whatever a collection left
    const small = harness(2 * MiB);
    small.own(OWNED_MIN);
    small.q.touch();
    clock.tick(QUIET_MS);
    small.own(OWNED_MIN - 1);
    small.q.touch();
    clock.tick(QUIET_MS);
    assert.equal(small.q.collections, 1);
  });

  it('collects nothing once stopped, also when its timer was running', () => {
    const { q, calls, own } = harness();
    own(4 * OWNED_MIN);
    q.touch();
    q.stop();
    clock.tick(QUIET_MS);
    q.touch();
    clock.tick(QUIET_MS);
    assert.deepEqual(calls, []);
    const second = harness();
    second.own(OWNED_MIN);
    second.q.touch();
    clock.tick(QUIET_MS);
    second.q.stop();
    clock.tick(IDLE_MS);
    assert.deepEqual(second.calls, ['gc', 'trim'], 'no idle collection after stop()');
    assert.equal(clock.countTimers(), 0);
  });

  it('releases the file pages once idle, collected or not, with a trim after, and not while calls come', () => {
    const calls: string[] = [];
    let owned = OWNED_MIN;
    const q = new IdleReclaim({
      gc: () => {
        calls.push('gc');
        owned = 7 * MiB;
      },
      trim: () => calls.push('trim'),
      release: () => calls.push('release'),
      owned: () => owned,
    });
    q.touch();
    clock.tick(IDLE_MS);
    assert.deepEqual(calls, ['gc', 'trim', 'gc', 'gc', 'release', 'trim'], 'after the idle collection, and one trim for both');
    assert.equal(q.releases, 1);
    calls.length = 0;
    // a daemon that owns too little to collect still releases; a call in the idle time puts it off
    q.touch();
    clock.tick(IDLE_MS - 1);
    q.touch();
    clock.tick(IDLE_MS - 1);
    assert.deepEqual(calls, []);
    clock.tick(1);
    assert.deepEqual(calls, ['release', 'trim']);
    clock.tick(10 * IDLE_MS);
    assert.equal(q.releases, 2, 'once per idle time');
    assert.equal(clock.countTimers(), 0);
    q.touch();
    q.stop();
    clock.tick(IDLE_MS);
    assert.equal(q.releases, 2, 'none after stop()');
  });

  it('releases without gc too (a daemon run without --expose-gc), and never collects there', () => {
    const owned = sinon.stub().returns(OWNED_MIN * 4);
    const release = sinon.spy();
    const q = new IdleReclaim({ gc: undefined, owned, release });
    assert.equal(q.enabled, true);
    q.touch();
    clock.tick(IDLE_MS);
    assert.equal(release.callCount, 1);
    assert.equal(q.collections, 0);
    assert.equal(owned.callCount, 0, 'what it owns matters only to a collection');
  });

  it('does nothing without gc or release', () => {
    const owned = sinon.stub().returns(OWNED_MIN * 4);
    const q = new IdleReclaim({ gc: undefined, owned });
    assert.equal(q.enabled, false);
    q.touch();
    assert.equal(clock.countTimers(), 0);
    assert.equal(owned.callCount, 0, 'not even /proc is read');
  });

  it('reads what the process owns from the kernel: some of its resident memory, not all of it', () => {
    const owned = ownedMemory();
    const rss = process.memoryUsage().rss;
    assert.ok(owned > MiB && owned < rss, `owned ${owned} of ${rss} resident`);
  });

  it("finds V8's gc when the process has one, and its timer keeps no process alive", function () {
    this.timeout(10_000);
    clock.restore();
    const module = join(__dirname, '..', '..', '..', 'shim', 'util', 'idle-reclaim.js');
    const script = `const { IdleReclaim } = require(${JSON.stringify(module)});
      const q = new IdleReclaim({ quietMs: 60000 }); q.touch(); process.stdout.write(String(q.enabled));`;
    for (const [flags, enabled] of [[['--expose-gc'], 'true'], [[], 'false']] as const) {
      const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', timeout: 8000 });
      assert.equal(r.status, 0, `ran to its end with the 60 s timer armed (not killed at 8 s): ${r.stderr}`);
      assert.equal(r.stdout, enabled);
    }
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });

  it('gets V8 to give back a semi-space, and the unused pages of the other, in the idle collection', function () {
    this.timeout(15_000);
    clock.restore();
    const module = join(__dirname, '..', '..', '..', 'shim', 'util', 'idle-reclaim.js');
    // The forking spare's node options. 1.2 MB of garbage: a scavenge, so both semi-spaces are in
    // use; the collection a quiet 50 ms later comes at a high allocation rate, the idle one 5.5 s
    // later at a low one (V8 reckons the rate over its last samples, up to 5 s: at 1.5 s, Node's
    // own start was still in them, and V8 kept both semi-spaces).
    const script = `const { IdleReclaim } = require(${JSON.stringify(module)});
      const v8 = require('node:v8');
      const young = () => { const s = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space'); return [s.space_size, s.physical_space_size]; };
      let keep = [];
      for (let i = 0; i < 12000; i++) { keep.push({ i, s: 'x'.repeat(64) }); if (keep.length > 100) keep = []; }
      const before = young();
      const q = new IdleReclaim({ quietMs: 50, idleMs: 5500, ownedMin: 0, ownedGrowth: 0 });
      q.touch();
      setTimeout(() => process.stdout.write(JSON.stringify({ before, after: young(), collections: q.collections, idle: q.idleCollections })), 6000);`;
    const r = spawnSync(process.execPath, [...FORKING_SPARE_NODE_OPTIONS, '-e', script], { encoding: 'utf8', timeout: 12_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { before: number[]; after: number[]; collections: number; idle: number };
    assert.deepEqual({ collections: got.collections, idle: got.idle }, { collections: 2, idle: 1 });
    assert.deepEqual(got.before, [2 << 20, 2 << 20], 'two semi-spaces of 1 MiB in use');
    assert.equal(got.after[0], 1 << 20, 'one given back');
    assert.ok((got.after[1] ?? Infinity) <= 512 << 10, `most of the other's pages given back: ${got.after[1]} bytes resident`);
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
});
