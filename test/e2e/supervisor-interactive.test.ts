/**
 * `tsrunc` interactive end to end, driven like a person at a terminal through node-pty: `run -t -i`
 * and `exec -t -i` (input, output, window sizes at start and on SIGWINCH, exit codes), `attach` and
 * detach with ctrl-p ctrl-q or by killing the client (the container keeps running), a daemon
 * restart under attached terminals, and stdin without a terminal (`run -i`, `attach`, `exec -i`
 * with piped input) — for our shim and Go's.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as pty from 'node-pty';
import { alive } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label } from '../helpers/runtimes';
import { Supervisor, TSRUNC } from '../helpers/supervisor';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

const CTRL_P = '\x10';
const CTRL_Q = '\x11';

/** `tsrunc ARGS…` on a pseudo-terminal, with everything it printed so far. */
class Terminal {
  output = '';
  readonly exit: Promise<number>;
  private readonly term: pty.IPty;
  private exited = false;

  constructor(sv: Supervisor, args: string[], size = { cols: 80, rows: 24 }) {
    this.term = pty.spawn(process.execPath, [TSRUNC, '--root', sv.root, ...args], { name: 'xterm', cols: size.cols, rows: size.rows, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm', HOME: '/root' } });
    this.term.onData((d) => (this.output += d));
    this.exit = new Promise((resolve) =>
      this.term.onExit(({ exitCode }) => {
        this.exited = true;
        resolve(exitCode);
      }),
    );
  }

  get pid(): number {
    return this.term.pid;
  }

  type(text: string): void {
    this.term.write(text);
  }

  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
  }

  /** Waits until the output (after `from`) matches. */
  async expect(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return waitFor(() => this.output.slice(from).match(pattern) ?? undefined, { timeoutMs, what: `${pattern} on the terminal (got ${JSON.stringify(this.output.slice(-300))})` });
  }

  /** Types `command` and waits for `pattern` in what follows. */
  async run(command: string, pattern: RegExp): Promise<RegExpMatchArray> {
    const mark = this.output.length;
    this.type(`${command}\r`);
    return this.expect(pattern, mark);
  }

  /** Types `stty size` until the container shows `rows cols` (a resize travels SIGWINCH → daemon → shim). */
  async expectSize(rows: number, cols: number): Promise<void> {
    await waitFor(
      async () => {
        try {
          await this.run('stty size', new RegExp(`\\b${rows} ${cols}\\b`));
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, what: `the window size ${rows} ${cols} inside the container` },
    );
  }

  kill(): void {
    if (this.exited) return;
    try {
      process.kill(this.term.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** `tsrunc ARGS…` with piped stdio. */
function piped(sv: Supervisor, args: string[]): { child: ChildProcessWithoutNullStreams; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [TSRUNC, '--root', sv.root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr.on('data', (b: Buffer) => (text += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exit };
}

describe('tsrunc interactive: terminals, attach, stdin (daemon + CLI, node-pty)', function () {
  this.timeout(90_000);
  let sv: Supervisor;
  let rootfs: string;
  let n = 0;
  const terminals: Terminal[] = [];
  const term = (args: string[], size?: { cols: number; rows: number }): Terminal => {
    const t = new Terminal(sv, args, size);
    terminals.push(t);
    return t;
  };

  before(async function () {
    requireSystem(this, ['runc', 'containerd-shim-runc-v2', 'busybox']);
    rootfs = sharedRootfs();
    sv = new Supervisor();
    await sv.startDaemon();
  });
  afterEach(() => {
    for (const t of terminals.splice(0)) t.kill();
  });
  after(async () => {
    await sv?.cleanup();
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
      const name = (): string => `${runtime === GO_RUNTIME ? 'igo' : 'its'}${++n}`;

      it('run -t -i is interactive: input, output, the window size at start and on SIGWINCH, the exit code; logs has the output', async () => {
        const nm = name();
        const t = term(['run', '-t', '-i', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh']);
        await t.expect(/\/ # /);
        await t.run('echo $((6*7))-ok', /42-ok/);
        await t.run('tty', /\/dev\/pts\/\d+/);
        await t.expectSize(24, 80);
        t.resize(100, 30);
        await t.expectSize(30, 100);
        t.type('exit 3\r');
        assert.equal(await t.exit, 3);
        const c = await sv.inspect(nm);
        assert.deepEqual([c.status, c.exitStatus], ['exited', 3]);
        const logs = await sv.cli(['logs', nm]);
        assert.match(logs.stdout, /42-ok/, 'a terminal container’s output reaches logs');
        await sv.ok(['rm', nm]);
      });

      it('exec -t -i is interactive in a running container: its terminal, its size, resize, exit code', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const t = term(['exec', '-t', '-i', nm, '--', '/bin/sh'], { cols: 120, rows: 40 });
        await t.expect(/\/ # /);
        await t.run('tty; echo done-$((1+1))', /\/dev\/pts\/\d+[\s\S]*done-2/);
        await t.expectSize(40, 120);
        t.resize(90, 20);
        await t.expectSize(20, 90);
        t.type('exit 7\r');
        assert.equal(await t.exit, 7);
        assert.equal((await sv.inspect(nm)).status, 'running', 'the container is untouched');
        await sv.ok(['rm', '-f', nm]);
      });

      it('attach reaches a running terminal; ctrl-p ctrl-q and a killed client detach, the container keeps running; its exit ends attach', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '-t', '-i', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh']);
        const { pid } = await sv.inspect(nm);
        const first = term(['attach', nm]);
        await first.run('echo attached-$((2+3))', /attached-5/);
        first.type(`${CTRL_P}${CTRL_Q}`);
        assert.equal(await first.exit, 0, 'detaching exits 0');
        assert.match(first.output, /detached/);
        assert.equal((await sv.inspect(nm)).status, 'running');
        assert.ok(alive(pid));
        const second = term(['attach', nm]);
        await second.run('echo again-$((3+4))', /again-7/);
        second.kill(); // the client dies: the container must not notice
        await second.exit;
        const third = term(['attach', nm]);
        await third.run('echo still-$((4+5))', /still-9/);
        assert.equal((await sv.inspect(nm)).status, 'running');
        third.type('exit 5\r');
        assert.equal(await third.exit, 5, 'attach exits with the container');
        assert.equal((await sv.inspect(nm)).exitStatus, 5);
        await sv.ok(['rm', nm]);
      });

      it('exec -i takes piped input without a terminal, stdout and stderr apart', async () => {
        const nm = name();
        await sv.ok(['run', '-d', '--name', nm, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sleep', '1000']);
        const p = piped(sv, ['exec', '-i', nm, '--', '/bin/sh', '-c', 'cat; echo err >&2; exit 2']);
        p.child.stdin.end('line one\nline two\n');
        assert.equal(await p.exit, 2);
        assert.equal(p.out().replace('err\n', ''), 'line one\nline two\n');
        assert.match(p.out(), /err\n/);
        await sv.ok(['rm', '-f', nm]);
      });
    });
  }

  it('run -t -i --rm detached from with ctrl-p ctrl-q: the container runs on and is removed once it exits', async () => {
    const t = term(['run', '-t', '-i', '--rm', '--name', 'detached-rm', '--rootfs', rootfs, '--', '/bin/sh']);
    await t.run('echo before-$((1+6))', /before-7/);
    t.type(`${CTRL_P}${CTRL_Q}`);
    assert.equal(await t.exit, 0);
    assert.equal((await sv.inspect('detached-rm')).status, 'running');
    const back = term(['attach', 'detached-rm']);
    await back.run('echo back', /back/);
    back.type('exit 2\r');
    assert.equal(await back.exit, 2);
    await waitFor(async () => !(await sv.list()).some((c) => c.name === 'detached-rm'), { timeoutMs: 20_000, what: '--rm to remove the exited container' });
  });

  it('a daemon killed with SIGKILL and restarted: attach reaches the same terminals again (both shims)', async () => {
    for (const runtime of RUNTIMES) await sv.ok(['run', '-d', '-t', '-i', '--name', `survivor-${runtime === GO_RUNTIME ? 'go' : 'ts'}`, '--runtime', runtime, '--rootfs', rootfs, '--', '/bin/sh']);
    await sv.killDaemon();
    await sv.startDaemon();
    for (const nm of ['survivor-go', 'survivor-ts']) {
      assert.equal((await sv.inspect(nm)).status, 'running', `${nm} outlived the daemon`);
      const t = term(['attach', nm]);
      await t.run('echo back-$((5*5))', /back-25/);
      t.type('exit 4\r');
      assert.equal(await t.exit, 4);
      await sv.ok(['rm', nm]);
    }
  });

  it('SIGTERM stops the daemon under an attach and an exec, which then exit non-zero, not 0', async () => {
    const nm = 'shut-under';
    await sv.ok(['run', '-d', '--name', nm, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'while :; do echo tick; sleep 0.2; done']);
    const attach = piped(sv, ['attach', nm]);
    const exec = piped(sv, ['exec', nm, '--', '/bin/sh', '-c', 'while :; do echo exec-tick; sleep 0.2; done']);
    await waitFor(() => attach.out().includes('tick') && exec.out().includes('exec-tick'), { what: 'output through attach and exec' });
    // before, the daemon did not stop until both clients went away (SIGKILL after 10 s here)
    assert.equal(await sv.stopDaemon(), 'exited', 'SIGTERM stops the daemon with clients attached');
    // and each exited 0: the daemon ended the call without an exit status, read as a success
    assert.notEqual(await exec.exit, 0, exec.out());
    assert.notEqual(await attach.exit, 0, attach.out());
    await sv.startDaemon();
    await sv.ok(['rm', '-f', nm]);
  });

  for (const runtime of RUNTIMES) {
  describe(`${label(runtime)}: stdin without a terminal`, () => {
    const runtimeArgs = runtime === OUR_RUNTIME ? [] : ['--runtime', runtime];
    const reader = `reader-${runtime === GO_RUNTIME ? 'go' : 'ts'}`;
    it('run -i copies piped input to the container and closes it at EOF; the exit status is the container’s', async () => {
      const p = piped(sv, ['run', '-i', '--rm', ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'cat; exit 4']);
      p.child.stdin.end('a\nb\n');
      assert.equal(await p.exit, 4, p.out());
      assert.equal(p.out(), 'a\nb\n');
    });

    it('attach to a container with open stdin: input reaches it; a killed client detaches; EOF of the next ends its input', async () => {
      await sv.ok(['run', '-d', '-i', '--name', reader, ...runtimeArgs, '--rootfs', rootfs, '--', '/bin/sh', '-c', 'while read l; do echo got-$l; done; echo bye; exit 6']);
      const first = piped(sv, ['attach', reader]);
      // the attach is in place once input gets through: keep sending until it does
      await waitFor(
        () => {
          first.child.stdin.write('one\n');
          return first.out().includes('got-one');
        },
        { timeoutMs: 20_000, intervalMs: 300, what: 'input through attach' },
      );
      first.child.kill('SIGKILL');
      await first.exit;
      assert.equal((await sv.inspect(reader)).status, 'running', 'a killed client leaves the container running');
      const second = piped(sv, ['attach', reader]);
      await waitFor(
        () => {
          second.child.stdin.write('two\n');
          return second.out().includes('got-two');
        },
        { timeoutMs: 20_000, intervalMs: 300, what: 'input through the second attach' },
      );
      second.child.stdin.end();
      assert.equal(await second.exit, 6);
      assert.match(second.out(), /bye\n$/);
      await sv.ok(['rm', reader]);
    });
  });
}
});
