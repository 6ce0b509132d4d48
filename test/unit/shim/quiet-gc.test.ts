/**
 * The collection once calls stop coming (shim/util/quiet-gc.ts) under sinon fake timers: none while
 * calls keep coming, one after a quiet second when the heap grew enough, the malloc trim after it,
 * none after stop(), and nothing at all without `gc`. One real check: the process timer it arms
 * does not keep Node alive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import sinon from 'sinon';
import { MIN_GROWTH, QUIET_MS, QuietGc } from '../../../shim/util/quiet-gc';

describe('shim/util/quiet-gc', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => clock.restore());

  /** A collector over a fake heap: `grow` adds bytes in use, a collection frees all but `live`. */
  function harness(live = 1 << 20): { q: QuietGc; calls: string[]; grow: (bytes: number) => void } {
    let used = live;
    const calls: string[] = [];
    const q = new QuietGc({
      gc: () => {
        calls.push('gc');
        used = live;
      },
      trim: () => calls.push('trim'),
      heapUsed: () => used,
    });
    return { q, calls, grow: (bytes) => (used += bytes) };
  }

  it('collects once, a quiet second after the last answer, and trims malloc after it', () => {
    const { q, calls, grow } = harness();
    for (let i = 0; i < 10; i++) {
      grow(MIN_GROWTH);
      q.touch();
      clock.tick(QUIET_MS - 1); // the next call comes just in time: no collection in a busy run
    }
    assert.deepEqual(calls, []);
    clock.tick(1);
    assert.deepEqual(calls, ['gc', 'trim']);
    assert.equal(q.collections, 1);
    clock.tick(10 * QUIET_MS);
    assert.equal(q.collections, 1, 'no timer left running while idle');
  });

  it('leaves a heap that grew by less than MIN_GROWTH since the last collection', () => {
    const { q, calls, grow } = harness();
    grow(MIN_GROWTH - 1);
    q.touch();
    clock.tick(QUIET_MS);
    assert.deepEqual(calls, []);
    grow(1);
    q.touch();
    clock.tick(QUIET_MS);
    assert.deepEqual(calls, ['gc', 'trim']);
    // measured from what the collection left, not from the start
    grow(MIN_GROWTH / 2);
    q.touch();
    clock.tick(QUIET_MS);
    assert.equal(q.collections, 1);
  });

  it('collects nothing once stopped, also when its timer was running', () => {
    const { q, calls, grow } = harness();
    grow(4 * MIN_GROWTH);
    q.touch();
    q.stop();
    clock.tick(QUIET_MS);
    q.touch();
    clock.tick(QUIET_MS);
    assert.deepEqual(calls, []);
  });

  it('does nothing without gc (a process run without --expose-gc)', () => {
    const heapUsed = sinon.stub().returns(0);
    const q = new QuietGc({ gc: undefined, heapUsed });
    assert.equal(q.enabled, false);
    q.touch();
    assert.equal(clock.countTimers(), 0);
    assert.equal(heapUsed.callCount, 0, 'not even the heap is read');
  });

  it("finds V8's gc when the process has one, and its timer keeps no process alive", function () {
    this.timeout(10_000);
    clock.restore();
    const module = join(__dirname, '..', '..', '..', 'shim', 'util', 'quiet-gc.js');
    const script = `const { QuietGc } = require(${JSON.stringify(module)});
      const q = new QuietGc({ quietMs: 60000 }); q.touch(); process.stdout.write(String(q.enabled));`;
    for (const [flags, enabled] of [[['--expose-gc'], 'true'], [[], 'false']] as const) {
      const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', timeout: 8000 });
      assert.equal(r.status, 0, `ran to its end with the 60 s timer armed (not killed at 8 s): ${r.stderr}`);
      assert.equal(r.stdout, enabled);
    }
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
});
