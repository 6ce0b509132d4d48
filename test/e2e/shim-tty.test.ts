/**
 * Terminals (shim part 2) under real containerd + runc, driven like a person at a terminal through
 * node-pty: `ctr run -t` and `ctr task exec -t` interactive (input, output, exit code), window-size
 * changes reaching the container (SIGWINCH → ResizePty → `stty size`), large output through the
 * tty untruncated — for Go's shim and ours; CloseIO on a terminal for ours over ttrpc.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, constants as fsc } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { loadNative } from '../../native';
import { OCI_PROCESS_TYPE_URL, packJson } from '../../proto';
import { Containerd, cleanEnv } from '../helpers/containerd';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { connectTask } from '../helpers/shim-client';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** A command on a pseudo-terminal, with everything it printed so far. */
class Terminal {
  output = '';
  exit: Promise<number>;
  private readonly term: pty.IPty;

  /**
   * `slowReader`: pauses 5 ms after each chunk, a reader slower than the container. Its ctr runs
   * under a shell that holds the terminal after ctr's exit (it prints `CTR-EXIT:<code>`, then waits
   * for a line: `release()`), because node-pty destroys the terminal 200 ms after its child's exit:
   * what the reader had not read by then — the tail ctr wrote last — was lost to the harness, not
   * to ctr (CI once lost the last 27 bytes that way, the shim having seen them read).
   */
  constructor(args: string[], size = { cols: 80, rows: 24 }, options: { slowReader?: boolean } = {}) {
    const [file, argv] = options.slowReader ? ['/bin/sh', ['-c', 'ctr "$@"; echo "CTR-EXIT:$?"; read -r _', 'sh', ...args]] : ['ctr', args];
    this.term = pty.spawn(file, argv, { name: 'xterm', cols: size.cols, rows: size.rows, env: cleanEnv({ TERM: 'xterm' }) });
    this.term.onData((d) => {
      this.output += d;
      if (!options.slowReader) return;
      this.term.pause();
      setTimeout(() => this.term.resume(), 5);
    });
    this.exit = new Promise((resolve) => this.term.onExit(({ exitCode }) => resolve(exitCode)));
  }

  type(text: string): void {
    this.term.write(text);
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** Waits until the output (after `from`) matches. */
  async expect(pattern: RegExp, from = 0, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return waitFor(() => this.output.slice(from).match(pattern) ?? undefined, { timeoutMs, what: `${pattern} on the terminal (got ${JSON.stringify(this.output.slice(-200))})` });
  }

  kill(): void {
    try {
      this.term.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

describe('terminals (real containerd + runc, node-pty)', function () {
  this.timeout(90_000);
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  const ctrArgs = (...args: string[]) => ['--address', ct.address, '--namespace', ct.namespace, ...ct.withFifoDir(args)];

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      it('`ctr run -t` is interactive: input, output, window size changes, exit code', async () => {
        const id = uniqueId();
        const t = new Terminal(ctrArgs('run', '-t', '--rm', '--runtime', runtime, '--rootfs', sharedRootfs(), id, '/bin/sh'));
        try {
          await t.expect(/\/ # /); // busybox ash: '/ # ' followed by a cursor-position query
          let mark = t.output.length;
          t.type('echo $((6*7))-ok\r');
          await t.expect(/42-ok/, mark);
          mark = t.output.length;
          t.type('stty size\r');
          await t.expect(/24 80/, mark);
          t.resize(100, 30);
          // ctr forwards SIGWINCH as ResizePty; poll until the container sees it
          await waitFor(async () => {
            const at = t.output.length;
            t.type('stty size\r');
            try {
              await t.expect(/30 100/, at, 1000);
              return true;
            } catch {
              return false;
            }
          }, { what: 'the new window size inside the container', timeoutMs: 15_000 });
          t.type('exit 3\r');
          assert.equal(await t.exit, 3);
        } finally {
          t.kill();
        }
      });

      it('`ctr task exec -t` is interactive in a running container', async () => {
        const id = uniqueId();
        await ct.ctrOk(['run', '-d', '--runtime', runtime, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
        const t = new Terminal(ctrArgs('task', 'exec', '-t', '--exec-id', 'sh1', id, '/bin/sh'), { cols: 120, rows: 40 });
        try {
          await t.expect(/\/ # /); // busybox ash: '/ # ' followed by a cursor-position query
          const mark = t.output.length;
          t.type('tty; stty size; echo done-$((1+1))\r');
          await t.expect(/\/dev\/pts\/\d+[\s\S]*40 120[\s\S]*done-2/, mark);
          t.type('exit 7\r');
          assert.equal(await t.exit, 7);
        } finally {
          t.kill();
          await ct.ctr(['task', 'rm', '-f', id]);
          await ct.ctr(['container', 'rm', id]);
        }
      });

      // ctr up to 1.6.21 closes its FIFOs when it learns the exit (shim/task/exits.ts, rule 5). Through
      // a terminal far less is in flight than through pipes, so a loss is rare: `script` + a slow
      // pipe reader lost part of the tail in 1 of 5 runs of ours before the exit waited for the
      // terminal's output too (Go's: 2 of 2). This run did not lose any without the change (3 of 3):
      // it checks that the wait lets a slow terminal reader have everything, and ends.
      if (runtime === OUR_RUNTIME) {
        it('a reader slower than the container still gets the whole output: the exit waits for it', async () => {
          const id = uniqueId();
          const t = new Terminal(ctrArgs('run', '-t', '--rm', '--runtime', runtime, '--rootfs', sharedRootfs(), id, '/bin/sh', '-c', 'head -c 2000000 /dev/zero | tr "\\0" a; echo END-OF-OUTPUT'), undefined, { slowReader: true });
          try {
            const [, code] = await t.expect(/CTR-EXIT:(\d+)\r?\n/, 0, 60_000);
            assert.equal(code, '0');
            t.type('\n'); // the shell holding the terminal may go
            assert.equal(await t.exit, 0);
            const output = t.output.slice(0, t.output.indexOf('CTR-EXIT:'));
            const count = (text: string): number => text.split('').filter((c) => c === 'a').length;
            // on failure: how much came, and whether our shim gave up waiting for the reader (its warning)
            const what = (): string => `${count(output)} a's; the shim: ${JSON.stringify(ct.logLines(new RegExp(`before its client read.* task=${id} `)))}`;
            assert.match(output, /END-OF-OUTPUT/, `the last line came before ctr exited (${what()})`);
            assert.equal(count(output.slice(0, output.indexOf('END-OF-OUTPUT'))), 2_000_000, what());
          } finally {
            t.kill();
          }
        });
      }

      it('carries 3 MB of output through the terminal untruncated', async function () {
        // Go's shim (containerd 1.6.20), the reference here and not the subject, now and then ends
        // the run with the tail of a terminal's output lost: twice in some 20 runs of this suite,
        // ctr exited 0 with the a's only. It gets two more tries; ours gets none.
        if (runtime === GO_RUNTIME) this.retries(2);
        const t = new Terminal(ctrArgs('run', '-t', '--rm', '--runtime', runtime, '--rootfs', sharedRootfs(), uniqueId(), '/bin/sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" a; echo; echo END-OF-OUTPUT'));
        try {
          assert.equal(await t.exit, 0);
          await t.expect(/END-OF-OUTPUT/);
          const body = t.output.slice(0, t.output.indexOf('END-OF-OUTPUT'));
          assert.equal(body.split('').filter((c) => c === 'a').length, 3_000_000);
        } finally {
          t.kill();
        }
      });
    });
  }

  it(`${label(OUR_RUNTIME)}: CloseIO on a terminal ends the process’s input`, async () => {
    const id = uniqueId();
    await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
    const dir = mkdtempSync('/tmp/tsrunc-tty-');
    const { task, close } = await connectTask(ct.shimSocket(id));
    const native = loadNative();
    try {
      const stdin = join(dir, 'stdin');
      const stdout = join(dir, 'stdout');
      native.mkfifo(stdin, 0o600);
      native.mkfifo(stdout, 0o600);
      // the client's ends, as containerd opens them: stdout for reading, stdin for writing
      const out = new net.Socket({ fd: openSync(stdout, fsc.O_RDONLY | fsc.O_NONBLOCK), readable: true, writable: false });
      let text = '';
      out.setEncoding('utf8').on('data', (s: string) => (text += s));
      const inFd = openSync(stdin, fsc.O_RDWR | fsc.O_NONBLOCK);
      const spec = { user: { uid: 0, gid: 0 }, cwd: '/', env: ['PATH=/bin', 'TERM=xterm'], args: ['/bin/sh', '-c', 'stty -echo; cat; echo cat-ended-$?'] };
      await task.exec({ id, execId: 'tty1', terminal: true, stdin, stdout, stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, spec) });
      await task.start({ id, execId: 'tty1' });
      const writer = new net.Socket({ fd: inFd, readable: false, writable: true });
      writer.write('through the tty\n');
      await waitFor(() => text.includes('through the tty'), { what: 'the echo of the input' });
      writer.destroy(); // the client closes its writer…
      await task.closeIO({ id, execId: 'tty1', stdin: true }); // …and CloseIO drops the shim's
      const waited = await task.wait({ id, execId: 'tty1' });
      assert.equal(waited.exitStatus, 0);
      await waitFor(() => text.includes('cat-ended-0'), { what: 'cat to see the end of its input' });
      out.destroy();
    } finally {
      await close();
      await ct.ctr(['task', 'rm', '-f', id]);
      await ct.ctr(['container', 'rm', id]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
