/**
 * What keeps the daemon's start cheap (docs/benchmarks.md): V8 accepts the code caches under the
 * options the daemon runs with — any V8 flag among them changes V8's flag hash, and then both
 * Node's cache of its own built-in modules and ours are rejected and everything is compiled from
 * source — and the bundle V8 keeps in memory for the daemon's life is one byte per character.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_NODE_OPTIONS, FORKING_SPARE_NODE_OPTIONS } from '../../../shim/manager/start';

const ROOT = join(__dirname, '..', '..', '..', '..');
const BUNDLE = join(ROOT, 'dist', 'shim', 'bundle', 'daemon.js');

/** Runs `code` in a Node started with `options`; its stdout. */
function nodeWith(options: readonly string[], code: string): string {
  return execFileSync(process.execPath, [...options, '-e', code], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } }).trim();
}

describe('the daemon bundle and its code caches', () => {
  before(function () {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`);
  });

  it("the daemon's node options leave V8's flag hash as it is (Node's built-in code cache stays valid)", () => {
    const tag = "process.stdout.write(String(require('node:v8').cachedDataVersionTag()))";
    assert.equal(nodeWith(DAEMON_NODE_OPTIONS, tag), nodeWith([], tag));
  });

  it("V8 accepts the build's code cache of the bundle under the daemon's node options", () => {
    const check = `
      const { Module } = require('node:module');
      const { Script } = require('node:vm');
      const fs = require('node:fs');
      const file = ${JSON.stringify(BUNDLE)};
      const s = new Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: fs.readFileSync(file + '.cache') });
      process.stdout.write(String(s.cachedDataRejected));`;
    assert.equal(nodeWith(DAEMON_NODE_OPTIONS, check), 'false');
  });

  it('the shell entry point starts spares with the same node options (a forking spare: the forking ones)', () => {
    const script = readFileSync(join(ROOT, 'bin', 'containerd-shim-tsrunc-v2'), 'utf8');
    const lines = [...script.matchAll(/exec setsid node (.*?) "\$dir\/lib\/containerd-shim-tsrunc-v2"/g)].map((m) => m[1]?.split(' '));
    assert.deepEqual(lines, [FORKING_SPARE_NODE_OPTIONS, DAEMON_NODE_OPTIONS], 'the forking spare’s command line, then any other spare’s');
  });

  it('is all ASCII: V8 keeps its source at one byte per character', () => {
    const text = readFileSync(BUNDLE, 'latin1');
    const at = [...text].findIndex((c) => c.charCodeAt(0) > 0x7f);
    assert.equal(at, -1, `a non-ASCII byte at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`);
  });
});
