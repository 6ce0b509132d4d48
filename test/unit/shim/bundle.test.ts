/**
 * What the shim reads from config.json (PROTOCOL §8.3): whether the init's exit leaves other
 * processes of the container running, in which case the shim kills them all before it reports
 * the exit. Without a private pid namespace — no `pid` entry, or one joined by path — or without a
 * readable spec, it must.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSpec, shouldKillAllOnExit } from '../../../shim/container/bundle';
import { tempDir } from './fakes';

describe('shim/container/bundle', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  function spec(value: unknown): string {
    writeFileSync(join(dir.path, 'config.json'), typeof value === 'string' ? value : JSON.stringify(value));
    return dir.path;
  }

  const ns = (...entries: { type: string; path?: string }[]): unknown => ({ ociVersion: '1.0.2', linux: { namespaces: entries } });

  const rows: [string, unknown, boolean][] = [
    ['a private pid namespace', ns({ type: 'pid' }, { type: 'mount' }, { type: 'network' }), false],
    ['a private pid namespace with an empty path', ns({ type: 'pid', path: '' }), false],
    ['no pid namespace entry (host pid namespace)', ns({ type: 'mount' }, { type: 'network' }), true],
    ['a pid namespace joined by path (another container or the host)', ns({ type: 'pid', path: '/proc/42/ns/pid' }), true],
    ['no namespaces at all', { ociVersion: '1.0.2', linux: {} }, true],
    ['no linux section', { ociVersion: '1.0.2' }, true],
  ];
  for (const [what, value, killAll] of rows) {
    it(`${killAll ? 'kills all' : 'does not kill all'} with ${what}`, () => {
      assert.equal(shouldKillAllOnExit(readSpec(spec(value))), killAll);
    });
  }

  it('kills all when config.json is missing', () => {
    assert.equal(readSpec(dir.path), undefined);
    assert.equal(shouldKillAllOnExit(readSpec(dir.path)), true);
  });

  it('kills all when config.json is not JSON', () => {
    assert.equal(readSpec(spec('{"linux":')), undefined);
    assert.equal(shouldKillAllOnExit(readSpec(dir.path)), true);
  });

  it('kills all when config.json cannot be read (a directory)', () => {
    mkdirSync(join(dir.path, 'config.json'));
    assert.equal(shouldKillAllOnExit(readSpec(dir.path)), true);
  });

  it('reads the annotations', () => {
    const s = readSpec(spec({ annotations: { 'io.containerd.runc.v2.group': 'pod1' } }));
    assert.deepEqual(s?.annotations, { 'io.containerd.runc.v2.group': 'pod1' });
  });
});
