import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../../supervisor/store/file-store';
import { MemoryBackend, Store } from '../../../supervisor/store/store';
import type { ContainerRecord } from '../../../supervisor/store/types';
import { Crash, ModelFs } from './model-fs';

function record(id: string, name: string, revision = 0): ContainerRecord {
  return {
    schema: 1,
    id,
    name,
    namespace: 'ns',
    runtime: 'io.containerd.tsrunc.v2',
    runtimeBinary: '/bin/shim',
    bundle: `/run/tsrunc/tasks/ns/${id}`,
    rootfs: '/rootfs',
    args: ['/bin/sh'],
    env: [],
    cwd: '',
    labels: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    autoRemove: false,
    restartPolicy: { name: 'no', maxRetries: 0 },
    logDir: `/var/lib/tsrunc/tasks/ns/${id}`,
    logConfig: { maxSize: 1024, maxFiles: 2 },
    status: 'running',
    pid: 42,
    revision,
  };
}

/** Loads the store's directory as a restarted daemon would; fails on damaged records. */
function reload(fs: ModelFs): ContainerRecord[] {
  const damaged: string[] = [];
  const records = new FileBackend('/lib/containers', fs).loadAll((file) => damaged.push(file));
  assert.deepEqual(damaged, [], 'no record is half-written');
  return records;
}

/** Runs `change` on a store whose disk is `fs`, crashing before step `crashAt`. */
function runUntilCrash(fs: ModelFs, crashAt: number, change: (store: Store) => void): boolean {
  const store = new Store(new FileBackend('/lib/containers', fs));
  store.load();
  fs.steps = 0;
  fs.crashAt = crashAt;
  try {
    change(store);
    return false;
  } catch (err) {
    if (err instanceof Crash) return true;
    throw err;
  } finally {
    fs.crashAt = 0;
  }
}

/** Every crash point × every power-cut outcome of `change`: the record is always `allowed`. */
function crashEverywhere(setup: (store: Store) => void, change: (store: Store) => void, allowed: (records: ContainerRecord[]) => boolean): number {
  let checked = 0;
  for (let crashAt = 1; ; crashAt++) {
    const fs = new ModelFs();
    const base = new Store(new FileBackend('/lib/containers', fs));
    base.load();
    setup(base);
    const crashed = runUntilCrash(fs, crashAt, change);
    for (const state of [fs.processCrash(), ...Array.from({ length: fs.outcomes }, (_, k) => fs.powerCut(k))]) {
      const records = reload(state);
      assert.ok(allowed(records), `crash before step ${crashAt}: unexpected records ${JSON.stringify(records.map((r) => [r.id, r.revision]))}`);
      // a second load leaves no temporary file behind
      assert.deepEqual(state.readdir().filter((n) => n.startsWith('.tmp-')), []);
      checked++;
    }
    if (!crashed) return checked;
  }
}

describe('supervisor/store', () => {
  describe('crash safety (a model file system, power cut before every step)', () => {
    it('an update leaves the old record or the new one, never half of one', () => {
      const checked = crashEverywhere(
        (s) => s.insert(record('a1', 'web')),
        (s) =>
          s.update('a1', (r) => {
            r.status = 'stopped';
            r.exitStatus = 137;
          }),
        (rs) => rs.length === 1 && ((rs[0]?.revision === 0 && rs[0].status === 'running') || (rs[0]?.revision === 1 && rs[0].status === 'stopped' && rs[0].exitStatus === 137)),
      );
      assert.ok(checked >= 10, `only ${checked} outcomes checked`);
    });

    it('an insert leaves no record or the whole record', () => {
      crashEverywhere(
        () => undefined,
        (s) => s.insert(record('b2', 'db')),
        (rs) => rs.length === 0 || (rs.length === 1 && rs[0]?.name === 'db' && rs[0].pid === 42),
      );
    });

    it('a removal leaves the whole record or none', () => {
      crashEverywhere(
        (s) => s.insert(record('c3', 'cache')),
        (s) => s.remove('c3'),
        (rs) => rs.length === 0 || (rs.length === 1 && rs[0]?.id === 'c3' && rs[0].revision === 0),
      );
    });

    it('a completed write is durable: after a power cut at the end the new record is there', () => {
      const fs = new ModelFs();
      const s = new Store(new FileBackend('/lib/containers', fs));
      s.load();
      s.insert(record('d4', 'x'));
      s.update('d4', (r) => (r.pid = 7));
      for (let k = 0; k < fs.outcomes; k++) assert.equal(reload(fs.powerCut(k))[0]?.pid, 7);
    });
  });

  describe('on the real file system', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tsrunc-store-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('round-trips records, one 0600 file each, and sets damaged files aside', () => {
      const s = new Store(new FileBackend(dir));
      s.load();
      s.insert(record('e5', 'one'));
      s.update('e5', (r) => (r.status = 'stopped'));
      writeFileSync(join(dir, 'f6.json'), '{"schema":1,"id":"f6","na');
      writeFileSync(join(dir, '.tmp-e5.json-1-1'), 'partial');
      const damaged: string[] = [];
      const again = new Store(new FileBackend(dir));
      const loaded = again.load((file) => damaged.push(file));
      assert.deepEqual(
        loaded.map((r) => [r.id, r.status, r.revision]),
        [['e5', 'stopped', 1]],
      );
      assert.deepEqual(damaged, [join(dir, 'f6.json')]);
      assert.deepEqual(readdirSync(dir).sort(), ['e5.json', 'f6.json.damaged']);
      assert.equal(statSync(join(dir, 'e5.json')).mode & 0o777, 0o600);
    });
  });

  describe('Store', () => {
    it('keeps names unique and resolves ids, names and unique id prefixes', () => {
      const s = new Store(new MemoryBackend());
      s.insert(record('abc123', 'web'));
      s.insert(record('abd456', 'db'));
      assert.throws(() => s.insert(record('fff000', 'web')), { kind: 'alreadyExists' });
      assert.equal(s.resolve('web').id, 'abc123');
      assert.equal(s.resolve('abd456').name, 'db');
      assert.equal(s.resolve('abc').id, 'abc123');
      assert.throws(() => s.resolve('ab'), { kind: 'invalidArgument' });
      assert.throws(() => s.resolve('zzz'), { kind: 'notFound', message: 'no such container: zzz: not found' });
      assert.deepEqual(
        s.list().map((r) => r.id),
        ['abc123', 'abd456'],
      );
    });
  });
});
