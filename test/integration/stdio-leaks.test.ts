/**
 * No fd leaks (containerd io_test.go style, PROTOCOL §10.7): the number of open fds of this process
 * is the same before and after several open → run → close cycles of every stdio kind — pipes
 * (spliced and streamed), file://, a terminal through runc, binary:// with a real logger, and a
 * terminal whose output goes to a logger.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../../native';
import { ExitMonitor, Reaper } from '../../shim/reaper';
import { openIO } from '../../shim/stdio/io';
import { PipeIO } from '../../shim/stdio/pipe-io';
import { type ProcessIO } from '../../shim/stdio/types';
import { type StdioConfig } from '../../shim/stdio/uri';
import { makeFifos, readFifo, writeFifo } from '../fixtures/stdio-clients';
import { RuncSandbox, openFdCount, waitExit } from '../fixtures/stdio-runc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const CYCLES = 3;

describe('stdio: no fd leaks across open/close cycles (real runc)', function () {
  this.timeout(120_000);
  let sandbox: RuncSandbox;
  let dir: string;
  let logger: string;
  const monitor = new ExitMonitor(new Reaper({ native: loadNative() }), loadNative());
  const ctx = () => ({ native: loadNative(), monitor, containerId: 'leak', namespace: 'stdio' });

  before(function () {
    requireSystem(this, ['runc']);
    sandbox = new RuncSandbox();
    dir = mkdtempSync(join(tmpdir(), 'stdio-leaks-'));
    logger = join(dir, 'logger');
    writeFileSync(logger, `#!${process.execPath}\nrequire(${JSON.stringify(join(__dirname, '..', 'fixtures', 'stdio-logger.js'))});\n`);
    chmodSync(logger, 0o755);
    process.env['XDG_RUNTIME_DIR'] = dir;
  });
  after(async () => {
    delete process.env['XDG_RUNTIME_DIR'];
    await sandbox?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One full cycle: open, run a container through the IO, read its output, delete, close. */
  async function cycle(n: number, stdio: (d: string) => StdioConfig, open: (s: StdioConfig) => Promise<ProcessIO> = (s) => openIO(s, ctx())): Promise<void> {
    const d = join(dir, `c${n}`);
    mkdirSync(d);
    const fifos = makeFifos(d, ['in', 'out', 'err'] as const);
    const config = stdio(d);
    const io = await open(config);
    try {
      const out = config.stdout === fifos.out ? readFifo(fifos.out) : undefined;
      const err = config.stderr === fifos.err ? readFifo(fifos.err) : undefined;
      const { id, pid } = await sandbox.create(io, ['sh', '-c', 'read l; echo out:$l; echo err >&2']);
      const input = config.stdin === fifos.in ? writeFifo(fifos.in) : undefined; // the shim opens stdin once runc runs
      await sandbox.start(id);
      input?.end('x\n');
      io.closeStdin();
      await waitExit(pid);
      io.processExited();
      await Promise.all([out?.ended, err?.ended]);
      await io.drained(2000);
      await sandbox.delete(id);
      if (out) assert.match(out.text(), /out:x/);
    } finally {
      io.close();
      await io.whenClosed();
    }
  }

  const kinds: [string, (d: string) => StdioConfig, ((s: StdioConfig) => Promise<ProcessIO>)?][] = [
    ['fifo pipes (splice)', (d) => ({ stdin: join(d, 'in'), stdout: join(d, 'out'), stderr: join(d, 'err'), terminal: false })],
    [
      'fifo pipes (streams)',
      (d) => ({ stdin: join(d, 'in'), stdout: join(d, 'out'), stderr: join(d, 'err'), terminal: false }),
      (s) => Promise.resolve(PipeIO.open({ kind: 'fifo', stdin: s.stdin, stdout: s.stdout, stderr: s.stderr }, { native: loadNative(), splice: false })),
    ],
    ['file://', (d) => ({ stdin: join(d, 'in'), stdout: `file://${d}/log`, stderr: `file://${d}/log`, terminal: false })],
    ['terminal', (d) => ({ stdin: join(d, 'in'), stdout: join(d, 'out'), stderr: '', terminal: true })],
    ['binary://', (d) => ({ stdin: join(d, 'in'), stdout: `binary://${logger}?dir=${d}`, stderr: `binary://${logger}?dir=${d}`, terminal: false })],
    ['binary:// + terminal', (d) => ({ stdin: join(d, 'in'), stdout: `binary://${logger}?dir=${d}`, stderr: '', terminal: true })],
  ];

  let counter = 0;
  for (const [name, stdio, open] of kinds) {
    it(`${name}: ${CYCLES} cycles leave the fd count unchanged`, async () => {
      await cycle(++counter, stdio, open); // warm-up: lazily loaded libraries, first runc
      const before = openFdCount();
      for (let i = 0; i < CYCLES; i++) await cycle(++counter, stdio, open);
      // sockets and streams close on the next turns of the event loop
      await waitFor(() => openFdCount() === before, { what: `the fd count to return to ${before} (now ${openFdCount()})`, timeoutMs: 5000 });
    });
  }
});
