/**
 * native/libc.ts binds libc symbols by name, and koffi fails the whole load (the daemon with it)
 * on a symbol the machine's glibc lacks. Read from the libc.so.6 this process loaded (objdump -T), every
 * symbol the load requires must come from a glibc no newer than OLDEST_GLIBC; newer ones are
 * optional or called through syscall(2). And those calls work: pidfd_open and pidfd_send_signal
 * through syscall(2) on a child of ours.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadNative } from '../../native';
import { OLDEST_GLIBC, declaredSymbols } from '../../native/libc';
import { requireSystem } from '../helpers/system';

/** Numeric comparison of dotted versions: '2.9' < '2.28'. */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The libc.so.6 this process has loaded (koffi's, after loadNative): the one whose symbols count. */
function loadedLibc(): string {
  const path = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/)[5] ?? '')
    .find((p) => /\/libc\.so\.6$/.test(p) || /\/libc-[\d.]+\.so$/.test(p));
  assert.ok(path, 'libc.so.6 is mapped');
  return path;
}

/** The oldest GLIBC_x.y version each exported function symbol of `libc` has. */
function glibcVersions(libc: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of execFileSync('objdump', ['-T', libc], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')) {
    const m = /\s(?:\(GLIBC_|GLIBC_)([\d.]+)\)?\s+(\w+)$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const seen = versions.get(m[2]);
    if (seen === undefined || compareVersions(m[1], seen) < 0) versions.set(m[2], m[1]);
  }
  return versions;
}

describe('native/libc: the glibc it needs (objdump -T of this machine’s libc)', function () {
  before(function () {
    requireSystem(this, ['objdump']);
    loadNative();
  });

  it(`requires no symbol newer than glibc ${OLDEST_GLIBC}; the newer ones it declares are optional`, () => {
    const versions = glibcVersions(loadedLibc());
    const symbols = declaredSymbols();
    assert.ok(symbols.length > 30, 'the load declared its symbols');
    const tooNew = symbols
      .filter((s) => !s.optional)
      .map((s) => ({ ...s, version: versions.get(s.name) }))
      .filter((s) => s.version === undefined || compareVersions(s.version, OLDEST_GLIBC) > 0)
      .map((s) => `${s.name} (${s.version ?? 'not in libc.so.6'})`);
    assert.deepEqual(tooNew, []);
    // what this test exists for: these glibc wraps only from 2.36
    assert.ok(!symbols.some((s) => s.name === 'pidfd_open' || s.name === 'pidfd_send_signal'));
  });

  it('pidfd_open and pidfd_send_signal, through syscall(2), open and signal a child', async () => {
    const native = loadNative();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise((resolve) => child.once('spawn', resolve));
    const pidfd = native.pidfdOpen(child.pid ?? 0);
    try {
      assert.ok(pidfd > 2);
      native.pidfdSendSignal(pidfd, 15);
      assert.equal(await exited, 'SIGTERM');
    } finally {
      native.close(pidfd);
    }
    assert.throws(() => native.pidfdOpen(2 ** 22 + 1), { code: 'ESRCH' }); // above pid_max: no such process
  });
});
