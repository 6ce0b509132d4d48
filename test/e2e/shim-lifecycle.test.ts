/**
 * The shim under a private real containerd + runc, driven through `ctr` — every behaviour for Go's
 * io.containerd.runc.v2 (the reference) and for ours, with the same expectations.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd, cleanEnv, mountsUnder, processesWithArgs } from '../helpers/containerd';
import { EventWatcher } from '../helpers/events';
import { sharedRootfs } from '../helpers/rootfs';
import { GO_RUNTIME, OUR_RUNTIME, RUNTIMES, label, uniqueId } from '../helpers/runtimes';
import { alive } from '../helpers/proc';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** `ctr task ls` as {id → {pid, status}}. */
async function tasks(ct: Containerd): Promise<Map<string, { pid: number; status: string }>> {
  const out = await ct.ctrOk(['task', 'ls']);
  const map = new Map<string, { pid: number; status: string }>();
  for (const line of out.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid && status) map.set(id, { pid: Number(pid), status });
  }
  return map;
}

describe('shim lifecycle through ctr (real containerd + runc)', function () {
  this.timeout(60_000);
  let ct: Containerd;
  let rootfs: string;
  let events: EventWatcher;
  let scratch: string;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
    rootfs = sharedRootfs();
    events = await EventWatcher.start(ct);
    scratch = mkdtempSync('/tmp/tsrunc-e2e-');
  });
  after(async () => {
    events?.stop();
    await ct?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const runtime of RUNTIMES) {
    describe(label(runtime), () => {
      const run = (id: string, args: string[], opts: { detach?: boolean; extra?: string[]; timeoutMs?: number } = {}) =>
        ct.ctr(['run', ...(opts.detach ? ['-d'] : ['--rm']), '--runtime', runtime, ...(opts.extra ?? []), '--rootfs', rootfs, id, ...args], { timeoutMs: opts.timeoutMs ?? 30_000 });
      const cleanup = async (id: string) => {
        await ct.ctr(['task', 'rm', '-f', id]);
        await ct.ctr(['container', 'rm', id]);
      };

      it('runs a container: stdout and stderr apart, its exit status returned by ctr', async () => {
        const r = await run(uniqueId(), ['/bin/sh', '-c', 'echo out; echo err >&2; exit 42']);
        assert.equal(r.stdout, 'out\n');
        assert.equal(r.stderr, 'err\n');
        assert.equal(r.code, 42);
      });

      it('publishes /tasks/create, /tasks/start, /tasks/exit, /tasks/delete in order, with one exit', async () => {
        const id = uniqueId();
        assert.equal((await run(id, ['/bin/sh', '-c', 'exit 7'])).code, 7);
        await events.until((all) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id), `delete event of ${id}`);
        const seen = events.forContainer(id);
        assert.deepEqual(
          seen.map((e) => e.topic),
          ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete'],
        );
        const [create, start, exit, del] = seen;
        assert.equal(create?.event['pid'], start?.event['pid']);
        assert.equal(exit?.event['id'], id);
        assert.equal(exit?.event['exit_status'], 7);
        assert.equal(del?.event['exit_status'], 7);
        assert.equal(exit?.event['exited_at'], del?.event['exited_at']);
      });

      it('reports the exit of a process that ends at once (before Start returns), exactly once, every time', async () => {
        const ids = Array.from({ length: 8 }, () => uniqueId('q'));
        for (const id of ids) assert.equal((await run(id, ['/bin/true'])).code, 0);
        await events.until((all) => ids.every((id) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id)), 'all delete events');
        for (const id of ids) {
          const exits = events.forContainer(id).filter((e) => e.topic === '/tasks/exit');
          assert.equal(exits.length, 1, `${id}: one exit event`);
          const topics = events.forContainer(id).map((e) => e.topic);
          assert.ok(topics.indexOf('/tasks/start') < topics.indexOf('/tasks/exit'), `${id}: start before exit`);
        }
      });

      it('Kill: SIGTERM ends the task (143), a kill of an exited task is NotFound, and Kill --all reaches every process', async () => {
        const id = uniqueId();
        assert.equal((await run(id, ['/bin/sh', '-c', 'trap "exit 143" TERM; sleep 1000 & wait'], { detach: true })).code, 0);
        assert.equal((await tasks(ct)).get(id)?.status, 'RUNNING');
        await ct.ctrOk(['task', 'kill', id]);
        await events.until((all) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === id), `exit of ${id}`);
        const exit = events.forContainer(id).find((e) => e.topic === '/tasks/exit');
        assert.equal(exit?.event['exit_status'], 143);
        const again = await ct.ctr(['task', 'kill', id]);
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /process already finished: not found/);
        await cleanup(id);

        const id2 = uniqueId();
        assert.equal((await run(id2, ['/bin/sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000 & wait'], { detach: true })).code, 0);
        // (the shell forks its sleeps after `run -d` has returned)
        const pids = await waitFor(async () => {
          const listed = await ct.taskPids(id2);
          return listed.length === 3 ? listed : undefined;
        }, { what: 'init and two sleeps' });
        await ct.ctrOk(['task', 'kill', '--all', '--signal', 'SIGKILL', id2]);
        await waitFor(() => pids.every((p) => !alive(p)), { what: 'every process of the container to die' });
        await cleanup(id2);
      });

      it('refuses to delete a running task; rm -f kills and deletes it', async () => {
        const id = uniqueId();
        await run(id, ['/bin/sleep', '1000'], { detach: true });
        const refused = await ct.ctr(['task', 'rm', id]);
        assert.notEqual(refused.code, 0);
        const { pid } = (await tasks(ct)).get(id) ?? { pid: 0 };
        assert.ok(pid > 0 && alive(pid));
        assert.equal((await ct.ctr(['task', 'rm', '-f', id])).code, 0);
        assert.equal((await tasks(ct)).has(id), false);
        await waitFor(() => !alive(pid), { what: 'the init to be gone' });
        assert.equal((await ct.ctr(['container', 'rm', id])).code, 0);
      });

      it('`ctr shim --id X state` finds the shim at the address Go computes and reports RUNNING', async () => {
        const id = uniqueId();
        await run(id, ['/bin/sleep', '1000'], { detach: true });
        const state = JSON.parse(await ct.ctrOk(['shim', '--id', id, 'state'])) as Record<string, unknown>;
        assert.equal(state['id'], id);
        assert.equal(state['status'], 2);
        assert.equal(state['bundle'], ct.bundle(id));
        assert.equal(state['pid'], (await tasks(ct)).get(id)?.pid);
        await cleanup(id);
      });

      it('delivers stdin and ends it on CloseIO', async () => {
        const id = uniqueId();
        const child = spawn('ctr', ['--address', ct.address, '--namespace', ct.namespace, ...ct.withFifoDir(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, id, '/bin/cat'])], {
          env: cleanEnv(),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
        const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
        // write only once the task runs: ctr installs its CloseIO hook after Create (PROTOCOL §10.9)
        await waitFor(async () => (await tasks(ct)).get(id)?.status === 'RUNNING', { what: 'cat to run' });
        child.stdin.end('line one\nline two\n');
        assert.equal(await exited, 0);
        assert.equal(out, 'line one\nline two\n');
      });

      it('copies 30 MiB of stdout byte-exact', async function () {
        // Go's shim (the reference, not the subject) lost 60 KiB of the tail once in CI (2026-11-24):
        // this machine's ctr closes its FIFOs when it learns the exit (the test below). Two more tries.
        if (runtime === GO_RUNTIME) this.retries(2);
        const size = 30 * 1024 * 1024;
        const r = await run(uniqueId(), ['/bin/sh', '-c', `yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c ${size}`], { timeoutMs: 60_000 });
        assert.equal(r.code, 0);
        const expected = '0123456789abcdefghijklmnopqrstuvwxyz\n'.repeat(Math.ceil(size / 37)).slice(0, size);
        assert.equal(r.stdout.length, size);
        assert.equal(createHash('sha256').update(r.stdout).digest('hex'), createHash('sha256').update(expected).digest('hex'));
      });

      // containerd's client up to 1.6.21 (this machine's ctr) closes its FIFOs as soon as it learns
      // the exit, so output still on its way was lost: ~1 MiB of 4 here before ours held the exit
      // for it (shim/task/exits.ts, rule 5; its pipes were 1 MiB then, 64 KiB as Go's since). Go's
      // shim loses up to ~130 KiB in the same run: 0–120 KiB in three runs, so this is asserted
      // for ours only.
      if (runtime === OUR_RUNTIME) {
        it('a reader slower than the container still gets every byte: the exit waits for the output', async () => {
          const size = 4 * 1024 * 1024;
          const child = spawn('ctr', ['--address', ct.address, '--namespace', ct.namespace, ...ct.withFifoDir(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, uniqueId(), '/bin/sh', '-c', `head -c ${size} /dev/zero`])], {
            env: cleanEnv(),
            stdio: ['pipe', 'pipe', 'pipe'],
          });
          child.stdin.end(); // at EOF at once, as a script's ctr often is
          let read = 0;
          child.stdout.on('data', (chunk: Buffer) => {
            read += chunk.length;
            child.stdout.pause(); // ~64 KiB per 5 ms: the container finishes long before its reader
            setTimeout(() => child.stdout.resume(), 5);
          });
          const [code] = (await once(child, 'close')) as [number | null];
          assert.equal(code, 0);
          assert.equal(read, size);
        });
      }

      it('appends stdout and stderr to a plain file named without a scheme (cio.LogFile, `ctr run --log-uri /path`)', async () => {
        const log = join(scratch, `${uniqueId()}.plain.log`);
        writeFileSync(log, 'before\n');
        const r = await run(uniqueId(), ['/bin/sh', '-c', 'echo to-out'], { extra: ['--log-uri', log] });
        assert.equal(r.code, 0, r.stderr);
        // appended, not truncated; before, ours refused the task: "… is not a FIFO"
        await waitFor(() => readFileSync(log, 'utf8') === 'before\nto-out\n' || undefined, { what: 'the line appended to the file' });
      });

      it('writes stdout and stderr to a file:// log URI', async () => {
        const once = async (): Promise<string> => {
          const log = join(scratch, `${uniqueId()}.log`);
          const r = await run(uniqueId(), ['/bin/sh', '-c', 'echo to-out; echo to-err >&2'], { extra: ['--log-uri', `file://${log}`] });
          assert.equal(r.code, 0);
          return log;
        };
        const has = (log: string, line: string): boolean => readFileSync(log, 'utf8').includes(`${line}\n`);
        if (runtime === OUR_RUNTIME) {
          // Ours copies both streams to their end before it reports the exit (exits.ts, rule 5): the
          // file is complete when ctr returns, every time.
          for (let i = 0; i < 5; i++) {
            const log = await once();
            assert.ok(has(log, 'to-out') && has(log, 'to-err'), readFileSync(log, 'utf8'));
          }
          return;
        }
        // Go's shim loses the stderr line now and then, for good (4 of 30 runs here): with one file
        // for both streams, copyPipes gives stdout's copy the file itself and stderr's a counting
        // wrapper of it, so stdout's copy closes the file when it ends, under stderr's (containerd
        // 1.6.20 pkg/process/io.go; unchanged upstream). Only its stdout line is certain.
        const log = await once();
        await waitFor(() => has(log, 'to-out'), { timeoutMs: 5000, what: 'the stdout line in the log file' });
      });

      it('survives a containerd SIGKILL: the task keeps running and is manageable by the new containerd', async () => {
        const id = uniqueId();
        await run(id, ['/bin/sleep', '1000'], { detach: true });
        const { pid } = (await tasks(ct)).get(id) ?? { pid: 0 };
        events.stop();
        await ct.kill();
        assert.ok(alive(pid), 'the container outlives containerd');
        await ct.launch();
        events = await EventWatcher.start(ct);
        assert.deepEqual((await tasks(ct)).get(id), { pid, status: 'RUNNING' });
        await ct.ctrOk(['task', 'kill', '--signal', 'SIGKILL', id]);
        await events.until((all) => all.some((e) => e.topic === '/tasks/exit' && e.event['container_id'] === id), `exit of ${id}`);
        assert.equal(events.forContainer(id).find((e) => e.topic === '/tasks/exit')?.event['exit_status'], 137);
        await cleanup(id);
      });

      it('shim SIGKILLed: containerd cleans up through `delete`, reports 137, and the container can be removed', async () => {
        const id = uniqueId();
        await run(id, ['/bin/sleep', '1000'], { detach: true });
        const { pid } = (await tasks(ct)).get(id) ?? { pid: 0 };
        const shim = processesWithArgs(['-id', id]).filter((p) => processesWithArgs(['-address', ct.address]).includes(p));
        assert.equal(shim.length, 1, 'one shim daemon for the task');
        process.kill(shim[0] ?? 0, 'SIGKILL');
        await events.until((all) => all.some((e) => e.topic === '/tasks/delete' && e.event['container_id'] === id), `delete of ${id}`);
        const exit = events.forContainer(id).find((e) => e.topic === '/tasks/exit');
        assert.equal(exit?.event['exit_status'], 137);
        assert.equal(exit?.event['pid'], pid);
        await waitFor(() => !alive(pid), { what: 'the container process to be gone' });
        assert.equal((await tasks(ct)).has(id), false);
        assert.deepEqual(mountsUnder(ct.bundle(id)), []);
        if (runtime === OUR_RUNTIME) assert.equal(existsSync(ct.shimSocket(id)), false, 'our delete removes the dead shim socket');
        else rmSync(ct.shimSocket(id), { force: true }); // Go's leaves it (a later start of the id would remove it)
        assert.equal((await ct.ctr(['container', 'rm', id])).code, 0);
      });
    });
  }
});
