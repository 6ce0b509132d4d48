/**
 * native/koffi.ts: the bundle opens the addon koffi's own loader would open, found by the build,
 * and anything that does not match what the build saw falls back to koffi's loader.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Koffi, findKoffiAddon, loadKoffi } from '../../native/koffi';
import { skipBecause } from '../helpers/system';

const ROOT = join(__dirname, '..', '..', '..');
const BUNDLES = join(ROOT, 'dist', 'shim', 'bundle');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const viaPackage = (): Koffi => require('koffi') as Koffi;

/** The addon file koffi's loader opened in this process. */
function addonKoffiOpened(): string {
  const { path, version } = findKoffiAddon();
  assert.equal(version, viaPackage().version);
  assert.ok(path.endsWith('/koffi.node'), path);
  return path;
}

/** The KOFFI_ADDON the build defined in bundle `name` (esbuild writes it as an object literal). */
function definedIn(name: string): { path: string; version: string } {
  const text = readFileSync(join(BUNDLES, `${name}.js`), 'utf8');
  const match = /define_KOFFI_ADDON_default=\{path:("(?:[^"\\]|\\.)*"),version:("(?:[^"\\]|\\.)*")\}/.exec(text);
  assert.ok(match?.[1] && match[2], `${name}.js defines KOFFI_ADDON`);
  return { path: JSON.parse(match[1]) as string, version: JSON.parse(match[2]) as string };
}

describe('loading koffi (native/koffi.ts)', function () {
  before(function () {
    if (process.platform !== 'linux') skipBecause(this, 'koffi’s addon and the bundles are built for Linux only');
  });

  it('opens the addon it is given, a koffi with the same API as the package', () => {
    const file = addonKoffiOpened();
    const direct = loadKoffi({ path: file, version: viaPackage().version });
    assert.notEqual(direct, viaPackage(), 'not the package entry');
    for (const name of ['load', 'struct', 'union', 'array', 'sizeof', 'offsetof', 'errno', 'address', 'node'] as const) {
      assert.equal(typeof direct[name], typeof viaPackage()[name], name);
    }
    const getpid = direct.load('libc.so.6').func('int getpid()') as () => number;
    assert.equal(getpid(), process.pid);
  });

  it("resolves a relative addon path against the bundle's directory", () => {
    const file = addonKoffiOpened();
    const dir = join(ROOT, 'dist', 'shim', 'bundle');
    const relativePath = join('..', '..', '..', file.slice(ROOT.length + 1));
    assert.equal(resolve(dir, relativePath), file);
    assert.notEqual(loadKoffi({ path: relativePath, version: viaPackage().version }, dir), viaPackage());
  });

  it("falls back to koffi's loader when the addon is not there or is another version", () => {
    const file = addonKoffiOpened();
    assert.equal(loadKoffi({ path: join(dirname(file), 'gone.node'), version: viaPackage().version }), viaPackage());
    assert.equal(loadKoffi({ path: file, version: '0.0.0-not-this' }), viaPackage());
    assert.equal(loadKoffi(undefined), viaPackage(), 'the tsc output has no KOFFI_ADDON');
  });

  it('both bundles name the addon koffi opens on this machine, and its version', function () {
    if (!existsSync(join(BUNDLES, 'daemon.js'))) throw new Error('dist/shim/bundle is missing: run npm run build');
    const file = addonKoffiOpened();
    for (const name of ['daemon', 'action']) {
      const addon = definedIn(name);
      assert.equal(resolve(BUNDLES, addon.path), file, name);
      assert.equal(addon.version, viaPackage().version, name);
    }
  });
});
