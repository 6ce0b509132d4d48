/**
 * The binary:// log URI (PROTOCOL §10) end to end: `ctr run --log-uri binary:///logger?…` under a
 * real containerd, for Go's shim and ours. The logging driver (test/fixtures/stdio-logger) gets the
 * container's stdout on fd 3 and stderr on fd 4, signals readiness on fd 5, and must see every byte
 * and EOF on both, with CONTAINER_ID and CONTAINER_NAMESPACE set and the query as its argv.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd } from '../helpers/containerd';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

interface Report {
  argv: string[];
  env: Record<string, string>;
  stdout: { bytes: number; eof: boolean };
  stderr: { bytes: number; eof: boolean };
  closedAt: number;
}

describe('binary:// logging driver (real containerd + runc, `ctr run --log-uri`)', function () {
  this.timeout(90_000);
  let ct: Containerd;
  let dir: string;
  let logger: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    dir = mkdtempSync('/tmp/tsrunc-binlog-');
    // the logger gets no PATH: an executable whose shebang is Node's absolute path
    logger = join(dir, 'logger');
    writeFileSync(logger, `#!${process.execPath}\nrequire(${JSON.stringify(join(__dirname, '..', 'fixtures', 'stdio-logger.js'))});\n`);
    chmodSync(logger, 0o755);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const runtime of RUNTIMES) {
    // ours only: with Go's shim 1.6.20 such a logger was still alive here once `ctr run --rm` had
    // returned (its Delete does not wait for the logger's end)
    if (runtime === OUR_RUNTIME) it(`${label(runtime)}: a logger that ignores SIGTERM is killed before Delete answers: none outlives its task`, async () => {
      const id = uniqueId();
      const out = join(dir, id);
      mkdirSync(out);
      const r = await ct.ctr(['run', '--rm', '--runtime', runtime, '--log-uri', `binary://${logger}?dir=${out}&mode=stubborn`, '--rootfs', sharedRootfs(), id, '/bin/echo', 'hi'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report & { pid: number; sigterm: boolean };
      assert.equal(report.sigterm, true, 'asked to stop first');
      // before, ours answered Delete at once and exited with its SIGKILL timer pending: the logger lived on
      assert.equal(alive(report.pid), false, `logger ${report.pid} is gone once \`ctr run --rm\` returned`);
    });

    it(`${label(runtime)}: the logger receives stdout and stderr byte-exact, with EOF, its argv and environment`, async () => {
      const id = uniqueId();
      const out = join(dir, id);
      mkdirSync(out);
      // 300 KiB on stdout (more than a pipe buffer) and a line on stderr
      const script = 'i=0; while [ $i -lt 3000 ]; do printf "%099d\\n" $i; i=$((i+1)); done; echo to-stderr >&2';
      const r = await ct.ctr(['run', '--rm', '--runtime', runtime, '--log-uri', `binary://${logger}?dir=${out}&mode=normal`, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', script], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      // the shim stops the logger after the task is deleted; it writes its report when both streams ended
      const report = await waitFor(
        () => {
          if (!existsSync(join(out, 'report.json'))) return undefined;
          const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
          return rep.closedAt > 0 ? rep : undefined;
        },
        { timeoutMs: 15_000, what: 'the logger to write out both streams' },
      );
      const stdout = readFileSync(join(out, 'stdout'), 'utf8');
      const lines = stdout.split('\n').filter(Boolean);
      assert.equal(lines.length, 3000);
      for (let i = 0; i < lines.length; i++) assert.equal(lines[i], String(i).padStart(99, '0'));
      assert.equal(readFileSync(join(out, 'stderr'), 'utf8'), 'to-stderr\n');
      assert.deepEqual({ out: report.stdout.eof, err: report.stderr.eof }, { out: true, err: true });
      assert.equal(report.env.CONTAINER_ID, id);
      assert.equal(report.env.CONTAINER_NAMESPACE, ct.namespace);
      const args = new Map<string, string>();
      for (let i = 0; i + 1 < report.argv.length; i += 2) args.set(report.argv[i] ?? '', report.argv[i + 1] ?? '');
      assert.deepEqual(Object.fromEntries(args), { dir: out, mode: 'normal' });
    });
  }
});
