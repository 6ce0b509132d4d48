/**
 * The forking spare's rehearsal (shim/manager/rehearsal.ts), in real Node processes with the
 * forking spare's node options: it leaves nothing behind, and what it calls stays compiled — V8
 * logs no lazy compile of a Node built-in when the same calls come again, where a process that did
 * not rehearse compiles dozens (the premise: under these options Node's code cache of its built-ins
 * is not used; if a Node version uses it again, the rehearsal has nothing left to do, and this says so).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FORKING_SPARE_NODE_OPTIONS } from '../../../shim/manager/start';
import { rehearse } from '../../../shim/manager/rehearsal';

const MODULE = join(__dirname, '../../../shim/manager/rehearsal.js');
/**
 * A function made by an eval between the rounds: V8's first event naming it (its compile: at the
 * eval, or at its call) marks where the second round begins. Not a function written in the script:
 * V8 may compile a parenthesized function with the script, before either round (Node 24's does),
 * and logs its first execution only in some versions (Node 20's, not 24's).
 */
const MARK = 'tsruncRehearsalMark';

/** Built-in functions V8 compiled lazily after the mark, in a process that rehearsed first or not. */
function builtinCompilesAfterMark(rehearseFirst: boolean): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-rehearsal-test-'));
  try {
    const log = join(dir, 'v8.log');
    const script = `
      const { rehearse } = require(${JSON.stringify(MODULE)});
      (async () => {
        if (${String(rehearseFirst)}) await rehearse();
        eval('(function ${MARK}() {})')();
        await rehearse();
      })();`;
    const args = [...FORKING_SPARE_NODE_OPTIONS, '--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', '-e', script];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(log, 'utf8').split('\n');
    const scripts = new Map<string, string>();
    const compiled: string[] = [];
    let marked = false;
    for (const line of lines) {
      const f = line.split(',');
      if (f[0] === 'script-details') scripts.set(f[1]!, f[2]!);
      if (f[0] !== 'function') continue;
      if (f[f.length - 1] === MARK) marked = true;
      const name = scripts.get(f[2]!) ?? '';
      // (node:internal/timers' own runner may wake for the cleared timers of a slow first round)
      if (marked && f[1] === 'interpreter' && name.startsWith('node:') && name !== 'node:internal/timers') compiled.push(`${name} ${f[f.length - 1]!}`);
    }
    assert.ok(marked, 'the mark is in the log');
    return compiled;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('shim/manager/rehearsal', function () {
  this.timeout(30_000);

  it('leaves no directory, socket or server behind', async () => {
    const own = mkdtempSync(join(tmpdir(), 'tsrunc-rehearsal-tmp-'));
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = own; // os.tmpdir() reads it on each call
    try {
      // (handles, not getActiveResourcesInfo: destroying a socket makes Node create process.stderr,
      // a stdio stream that stays, and mocha's own timers come and go)
      const handles = (): number => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
      const before = handles();
      await rehearse();
      assert.deepEqual(readdirSync(own), []);
      assert.equal(handles(), before);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('removes what a rehearsal killed midway left (its pid gone), not what a live one has', async () => {
    const own = mkdtempSync(join(tmpdir(), 'tsrunc-rehearsal-tmp-'));
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = own;
    const live = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const gone = spawnSync('true').pid; // exited and reaped: its pid names no process now
      assert.ok(gone !== undefined && live.pid !== undefined);
      for (const pid of [gone, live.pid]) {
        mkdirSync(join(own, `tsrunc-rehearsal-${pid}-x1`));
        writeFileSync(join(own, `tsrunc-rehearsal-${pid}-x1`, 'address'), 'unix:///rehearsal');
      }
      mkdirSync(join(own, 'tsrunc-rehearsal-test-x1')); // not a rehearsal's: no pid in its name
      await rehearse();
      assert.deepEqual(readdirSync(own).sort(), [`tsrunc-rehearsal-${live.pid}-x1`, 'tsrunc-rehearsal-test-x1'].sort());
    } finally {
      live.kill();
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('compiles, once, the built-ins its calls need: none are compiled when they come again', () => {
    const cold = builtinCompilesAfterMark(false);
    const warm = builtinCompilesAfterMark(true);
    assert.ok(cold.length >= 20, `without a rehearsal first, only ${cold.length} built-in functions were compiled: ${cold.join('; ')}`);
    assert.deepEqual(warm, []);
  });
});
