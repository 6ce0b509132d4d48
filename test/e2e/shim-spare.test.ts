/**
 * The spare daemons (shim/manager/spare.ts) under real containerd: `start` hands each task to an
 * idle shim process kept for this containerd. The shared spare forks a daemon per task and stays; a
 * spare started for one request (none was up) becomes that task's daemon, and a daemon whose task
 * was deleted is a spare again, which takes the next task itself (warm) — unless it is such a Node
 * process of its own and the forking spare is up: then it exits, and a fork is the warm one. With
 * TSRUNC_SPARE_FORK=0 the shared spare is adopted too, and the next one is started once its task
 * has run a moment.
 * Every task still has its own shim process, which shows the task's command line; spares are never
 * shared by two tasks, follow TSRUNC_SPARE=0, and go away with their containerd.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Containerd, processesWithArgs } from '../helpers/containerd';
import { alive, argvOf, gone } from '../helpers/proc';
import { sharedRootfs } from '../helpers/rootfs';
import { OUR_RUNTIME, uniqueId } from '../helpers/runtimes';
import { requireSystem } from '../helpers/system';
import { waitFor } from '../helpers/wait';

/** ppid and session of `pid`, from /proc/<pid>/stat. */
function statOf(pid: number): { ppid: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), session: Number(fields[3]) };
}

/** Anonymous and Pss_Anon (kB) of `pid`. */
function smapsRollup(pid: number): { anonymous: number; pssAnon: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { anonymous: kb('Anonymous'), pssAnon: kb('Pss_Anon') };
}

/** KiB of the executable of `pid` resident in its read-only mappings (its text and read-only data). */
function executableRss(pid: number): number {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  let kib = 0;
  let counting = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) counting = head[1]?.[1] === '-' && head[2] === exe;
    else if (counting) kib += Number(/^Rss:\s+(\d+) kB$/.exec(line)?.[1] ?? 0);
  }
  return kib;
}

/** The pid of task `id`'s shim, as `start` recorded it. */
function shimPidOf(ct: Containerd, id: string): number {
  return Number(readFileSync(join(ct.state, 'io.containerd.runtime.v2.task', ct.namespace, id, 'shim.pid'), 'utf8'));
}

async function removeTask(ct: Containerd, id: string): Promise<void> {
  await ct.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
  await waitFor(async () => (await ct.ctr(['task', 'rm', id])).code === 0, { what: `task ${id} deleted` });
  await ct.ctrOk(['container', 'rm', id]);
}

function runSleep(ct: Containerd, id: string): Promise<string> {
  return ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
}

/** A containerd of a test's own, and the helpers above bound to it. */
async function ownContainerd(env?: Record<string, string>): Promise<{ ct: Containerd; shimPid: (id: string) => number; remove: (id: string) => Promise<void>; runDetached: (id: string) => Promise<string> }> {
  const ct = await Containerd.start(env ? { env } : {});
  return { ct, shimPid: (id) => shimPidOf(ct, id), remove: (id) => removeTask(ct, id), runDetached: (id) => runSleep(ct, id) };
}

/** A task, then — once the spare for the next one is up — a second: their ids and that spare. */
async function twoTasks(ct: Containerd, runDetached: (id: string) => Promise<string>): Promise<{ first: string; spare: number; second: string }> {
  const first = uniqueId();
  await runDetached(first);
  const [spare] = await waitFor(() => (ct.readySparePids().length === 1 ? ct.readySparePids() : undefined), { what: 'one spare for this containerd, its door open' });
  assert.ok(spare !== undefined);
  const second = uniqueId();
  await runDetached(second);
  return { first, spare, second };
}

/** Spares of `ct` by kind: those that fork a daemon per task (door `-f<pid>`) and the others. */
function spareKinds(ct: Containerd): { forking: number[]; handing: number[] } {
  const forking = ct.sparePids().filter((pid) => readdirSync('/run/containerd/s').some((n) => n.endsWith(`-f${pid}`)));
  return { forking, handing: ct.sparePids().filter((pid) => !forking.includes(pid)) };
}

/** rmdir, ignoring failure (a cgroup still holding a process is not empty yet). */
function rmdirQuiet(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // not yet
  }
}

describe('shim: the spare daemon (real containerd + runc)', function () {
  this.timeout(90_000);
  let ct: Containerd;

  before(async function () {
    requireSystem(this, ['containerd', 'ctr', 'runc']);
    ct = await Containerd.start();
  });
  after(async () => {
    await ct?.stop();
  });

  const shimPid = (id: string): number => shimPidOf(ct, id);
  const remove = (id: string): Promise<void> => removeTask(ct, id);
  const runDetached = (id: string): Promise<string> => runSleep(ct, id);

  it('TSRUNC_SPARE_FORK=0: the next task is served by the spare itself; a new spare replaces it; each task keeps its own shim', async () => {
    const { ct, shimPid, remove, runDetached } = await ownContainerd({ TSRUNC_SPARE_FORK: '0' });
    try {
      const { first, spare, second } = await twoTasks(ct, runDetached);
      assert.equal(shimPid(second), spare, 'the spare became the second task’s shim');
      assert.notEqual(shimPid(first), shimPid(second));
      const argv = argvOf(spare).join(' ');
      assert.match(argv, new RegExp(`-namespace ${ct.namespace} -id ${second} -address ${ct.address} -socket unix:///run/containerd/s/[0-9a-f]{64}`));
      const next = await waitFor(() => ct.sparePids().find((p) => p !== spare), { what: 'a new spare' });
      assert.notEqual(next, spare);
      assert.equal(ct.sparePids().length, 1, 'exactly one spare');
      // the adopted daemon works as a spawned one: exec, kill, delete, and it exits afterwards
      assert.equal(await ct.ctrOk(['task', 'exec', '--exec-id', 'e1', second, '/bin/echo', 'adopted']), 'adopted\n');
      assert.ok(ct.shimPids().includes(spare), 'found by -address like any shim');
      for (const id of [first, second]) await remove(id);
      await waitFor(() => gone(spare), { what: 'the adopted shim to exit after its task' });
    } finally {
      await ct.stop();
    }
  });

  it('ctr run --rm again and again: every start and delete answered (through the spare), nothing left behind', async () => {
    const before = readdirSync('/run/containerd/s').filter((n) => n.startsWith('tsrunc-reply-'));
    for (let i = 0; i < 20; i++) {
      const out = await ct.ctrOk(['run', '--rm', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), uniqueId(), '/bin/echo', `run ${i}`]);
      assert.equal(out, `run ${i}\n`);
    }
    const after = readdirSync('/run/containerd/s').filter((n) => n.startsWith('tsrunc-reply-') && !before.includes(n));
    assert.deepEqual(after, [], 'no reply FIFO left');
    assert.doesNotMatch(ct.logTail(200), /failed to clean up|level=error/);
  });

  it('a burst of tasks started at once: each its own shim, and at most one spare of each kind left', async () => {
    const ids = [uniqueId(), uniqueId(), uniqueId(), uniqueId(), uniqueId()];
    await Promise.all(ids.map((id) => runDetached(id)));
    const pids = ids.map(shimPid);
    assert.equal(new Set(pids).size, ids.length, 'no two tasks share a shim');
    assert.ok(pids.every((p) => alive(p)));
    const kinds = await waitFor(
      () => {
        const k = spareKinds(ct);
        return k.forking.length === 1 && k.handing.length <= 1 ? k : undefined;
      },
      { what: 'the forking spare, and at most one other, after the burst' },
    );
    assert.ok(!pids.some((p) => kinds.forking.includes(p)), 'the forking spare served no task itself');
    for (const id of ids) await remove(id);
  });

  it('after tasks one at a time, the forking spare is up: a burst then is served by forks, not by Node starts', async () => {
    const { ct, shimPid, remove, runDetached } = await ownContainerd();
    try {
      for (let i = 0; i < 2; i++) await ct.ctrOk(['run', '--rm', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), uniqueId(), '/bin/true']);
      // the forking spare's door open, and the handed-back one's if there is one: the first task's
      // process hands itself back unless the forking spare was up by the end of its second task
      const kinds = await waitFor(
        () => {
          const k = spareKinds(ct);
          const ready = ct.readySparePids();
          return k.forking.length === 1 && ready.includes(k.forking[0]!) && k.handing.every((p) => ready.includes(p)) ? k : undefined;
        },
        { what: 'a forking spare, its door open, beside at most a handed-back one' },
      );
      const ids = [uniqueId(), uniqueId(), uniqueId(), uniqueId()];
      await Promise.all(ids.map((id) => runDetached(id)));
      const pids = ids.map(shimPid);
      assert.equal(new Set(pids).size, ids.length, 'no two tasks share a shim');
      // one task may take the handed-back spare; every other shim is a fork (its anonymous pages
      // shared with the spare), where a Node process started for the request would share none
      const others = pids.filter((p) => !kinds.handing.includes(p));
      for (const p of others) {
        const rollup = smapsRollup(p);
        assert.ok(rollup.pssAnon < rollup.anonymous * 0.9, `shim ${p}: Pss_Anon ${rollup.pssAnon} kB of Anonymous ${rollup.anonymous} kB`);
      }
      assert.ok(ct.readySparePids().includes(kinds.forking[0]!), 'the forking spare stays');
      for (const id of ids) await remove(id);
    } finally {
      await ct.stop();
    }
  });

  it('a task deleted before the next spare was due hands its process back: it is the spare, then the next task’s shim, one task at a time', async () => {
    // the shell's next spare waits longer than this test takes: only a handed-back process can be it
    const own = await Containerd.start({ env: { TSRUNC_SPARE_DELAY_MS: '30000' } });
    try {
      const shimOf = (id: string): number => Number(readFileSync(join(own.state, 'io.containerd.runtime.v2.task', own.namespace, id, 'shim.pid'), 'utf8'));
      const run = (id: string): Promise<string> => own.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      const removeOwn = async (id: string): Promise<void> => {
        await own.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
        await waitFor(async () => (await own.ctr(['task', 'rm', id])).code === 0, { what: `task ${id} deleted` });
        await own.ctrOk(['container', 'rm', id]);
      };
      const first = uniqueId();
      await run(first);
      const pid = shimOf(first);
      assert.deepEqual(own.sparePids(), [], 'no spare while its task runs');
      // a second task meanwhile gets a process of its own
      const other = uniqueId();
      await run(other);
      assert.notEqual(shimOf(other), pid);
      await removeOwn(first);
      await waitFor(() => own.readySparePids().includes(pid), { what: 'the shim of the deleted task to be the spare, its door open' });
      assert.ok(alive(shimOf(other)), 'the other task’s shim serves on');
      // nothing of the task is left in it: stderr on /dev/null, no file of its bundle, cwd /
      const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => {
        let link = '';
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          // closed meanwhile
        }
        const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
        return { fd: Number(fd), link, closeOnExec: (Number.parseInt(flags, 8) & 0o2000000) !== 0 };
      });
      assert.equal(readlinkSync(`/proc/${pid}/fd/2`), '/dev/null');
      assert.ok(!fds.some((f) => f.link.includes(first)), fds.map((f) => f.link).join('\n'));
      // the task's log fd, now on /dev/null, is close-on-exec: no runc of a later task inherits it
      // (only /dev/null ones are looked at: the process may have inherited others from its runner)
      const inherited = fds.filter((f) => f.fd > 2 && f.link === '/dev/null' && !f.closeOnExec);
      assert.deepEqual(inherited, [], 'fds above 2 on /dev/null that a child would inherit');
      assert.equal(readlinkSync(`/proc/${pid}/cwd`), '/');
      const second = uniqueId();
      await run(second);
      assert.equal(shimOf(second), pid, 'the handed-back process serves the next task');
      assert.equal(await own.ctrOk(['task', 'exec', '--exec-id', 'e1', second, '/bin/echo', 'again']), 'again\n');
      for (const id of [second, other]) await removeOwn(id);
      await waitFor(() => own.sparePids().length === 1, { what: 'one spare after both tasks' });
    } finally {
      await own.stop();
    }
  });

  it('a task is served by a fork of the spare, which stays (not its child, its own session, sharing its pages); the fork, not a Node process started for one task, is the warm spare after', async () => {
    const { ct, shimPid, remove, runDetached } = await ownContainerd(); // fresh: its first spare is still to come
    try {
      const { first, spare, second } = await twoTasks(ct, runDetached);
      const shim = shimPid(second);
      assert.notEqual(shim, spare, 'the spare stays a spare');
      assert.notEqual(shimPid(first), shim);
      assert.deepEqual(ct.readySparePids(), [spare], 'the same spare, its door open');
      const argv = argvOf(shim).join(' ');
      assert.match(argv, new RegExp(`-namespace ${ct.namespace} -id ${second} -address ${ct.address} -socket unix:///run/containerd/s/[0-9a-f]{64}`));
      // detached as a spawned daemon is: not the spare's child, its own session
      const stat = statOf(shim);
      assert.notEqual(stat.ppid, spare, 'the fork is not the spare’s child');
      assert.equal(stat.session, shim, 'the fork leads its own session');
      // a fork: anonymous pages shared with the spare (a Node process started on its own shares none)
      const rollup = smapsRollup(shim);
      assert.ok(rollup.pssAnon < rollup.anonymous * 0.9, `Pss_Anon ${rollup.pssAnon} kB of Anonymous ${rollup.anonymous} kB`);
      // nothing of the spare's waiting: no door
      const links = readdirSync(`/proc/${shim}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${shim}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      assert.ok(!links.some((l) => l.includes('tsrunc-door-')), links.join('\n'));
      // it works as a spawned daemon: exec, kill, delete, and it exits afterwards; the spare stays
      assert.equal(await ct.ctrOk(['task', 'exec', '--exec-id', 'e1', second, '/bin/echo', 'forked']), 'forked\n');
      assert.ok(ct.shimPids().includes(shim), 'found by -address like any shim');
      // the first task's process, a Node process started for it (memory all its own), exits after
      // its task with the forking spare up; the fork comes back as the warm spare after its task
      const started = shimPid(first);
      await remove(first);
      await waitFor(() => gone(started), { what: 'the first task’s process to exit after its task' });
      await remove(second);
      await waitFor(() => ct.readySparePids().includes(shim), { what: 'the forked shim to be the warm spare after its task' });
      assert.ok(ct.readySparePids().includes(spare), 'the forking spare is still there');
      // warm (it served a task), the handed-back one takes the next task itself; meanwhile the
      // forking spare forks
      const third = uniqueId();
      await runDetached(third);
      assert.equal(shimPid(third), shim, 'the warm spare took the next task');
      const fourth = uniqueId();
      await runDetached(fourth);
      assert.ok(![spare, shim].includes(shimPid(fourth)), 'a fork served the one after');
      assert.ok(ct.readySparePids().includes(spare));
      for (const id of [third, fourth]) await remove(id);
    } finally {
      await ct.stop();
    }
  });

  it('idle, the spare and every task daemon unmap the pages of the executable they read, and serve on', async function () {
    this.timeout(120_000);
    const { ct, shimPid, remove, runDetached } = await ownContainerd(); // its first task's daemon is a Node start, the second a fork
    try {
      const { first, spare, second } = await twoTasks(ct, runDetached);
      const pids = { node: shimPid(first), fork: shimPid(second), spare };
      const rss = (): Record<string, number> => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, executableRss(pid)]));
      // A daemon that served a task maps 17 MiB (a fork) to 34 MiB (a Node start) of the executable;
      // after a release, what runs next maps ~4.5 MiB again. A fixed bound, not a fraction of a
      // reading taken now: on a slow machine the spare may have released already (a second after
      // its fork), and a fraction of that would never be reached.
      const bound = 8192;
      const before = rss();
      assert.ok((before['fork'] ?? 0) > bound, `a fresh fork maps more of the executable: ${JSON.stringify(before)} KiB`);
      // the daemons after IDLE_MS with no call (shim/util/idle-reclaim.ts), the spare a second after its fork
      const after = await waitFor(
        () => {
          const now = rss();
          return Object.values(now).every((kib) => kib < bound) ? now : undefined;
        },
        { what: `each of ${JSON.stringify(pids)} to keep < ${bound} KiB of the executable resident (KiB before: ${JSON.stringify(before)})`, timeoutMs: 40_000, intervalMs: 500 },
      );
      assert.ok(Object.values(after).every((kib) => kib > 0));
      for (const id of [first, second]) assert.equal(await ct.ctrOk(['task', 'exec', '--exec-id', 'after', id, '/bin/echo', 'served']), 'served\n');
      const third = uniqueId(); // the spare forks as before
      await runDetached(third);
      assert.ok(![spare, pids.node, pids.fork].includes(shimPid(third)));
      assert.equal(await ct.ctrOk(['task', 'exec', '--exec-id', 'e1', third, '/bin/echo', 'forked']), 'forked\n');
      for (const id of [first, second, third]) await remove(id);
    } finally {
      await ct.stop();
    }
  });

  it('a warm spare that outlived the forking spare has a new one started when it takes a task', async () => {
    const { ct, shimPid, remove, runDetached } = await ownContainerd();
    try {
      const { first, spare, second } = await twoTasks(ct, runDetached);
      const fork = shimPid(second);
      await remove(second);
      await waitFor(() => ct.readySparePids().includes(fork), { what: 'the fork to be the warm spare after its task' });
      // the forking spare retires, as it does when the warm spare has taken every task for
      // TSRUNC_SPARE_IDLE_S (no knock at its door restarts its idle time)
      process.kill(spare, 'SIGTERM');
      await waitFor(() => gone(spare), { what: 'the forking spare to retire' });
      const third = uniqueId();
      await runDetached(third);
      assert.equal(shimPid(third), fork, 'the warm spare took the task');
      // without one, a burst would start Node for every task but the first
      const next = await waitFor(() => spareKinds(ct).forking.find((p) => ct.readySparePids().includes(p)), { what: 'a forking spare again, its door open' });
      assert.notEqual(next, spare);
      for (const id of [first, third]) await remove(id);
    } finally {
      await ct.stop();
    }
  });

  it('a warm spare handed back keeps the claim of the next spare on its way: tasks meanwhile start no second one', async () => {
    // the next spare waits 2 s: every task below runs inside that delay
    const { ct, shimPid, remove, runDetached } = await ownContainerd({ TSRUNC_SPARE_DELAY_MS: '2000' });
    try {
      const { first, spare, second } = await twoTasks(ct, runDetached);
      const argv = argvOf(spare);
      const prefix = argv[argv.indexOf('-control') + 1] ?? '';
      const runner = prefix.slice(prefix.lastIndexOf('-') + 1);
      const fork = shimPid(second);
      await remove(second);
      await waitFor(() => ct.readySparePids().includes(fork), { what: 'the fork to be the warm spare after its task' });
      process.kill(spare, 'SIGTERM'); // retired: the next task's `start` claims the next spare
      await waitFor(() => gone(spare), { what: 'the forking spare to retire' });
      const nextSpares = (): number[] => processesWithArgs(['-runner', runner]).filter((pid) => argvOf(pid).includes('next-spare'));
      for (let i = 0; i < 3; i++) {
        await ct.ctrOk(['run', '--rm', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), uniqueId(), '/bin/true']);
        await waitFor(() => ct.readySparePids().includes(fork), { what: 'the warm spare back after the task' });
        // a slow machine: the delay is over, and the next spare runs (booting, or with its door open)
        if (ct.sparePids().some((pid) => pid !== fork)) break;
        assert.ok(existsSync(`${prefix}.lock`), 'the claim stays while the next spare is on its way');
        // the shell execs the spare in place: read in this order, a pid caught between is seen once
        const onItsWay = new Set([...nextSpares(), ...ct.sparePids().filter((pid) => pid !== fork)]);
        assert.equal(onItsWay.size, 1, 'one next spare on its way, however many tasks came');
      }
      await waitFor(() => spareKinds(ct).forking.find((p) => ct.readySparePids().includes(p)), { what: 'the forking spare again', timeoutMs: 15_000 });
      await waitFor(() => !existsSync(`${prefix}.lock`), { what: 'its door open, the claim released' });
      assert.equal(spareKinds(ct).forking.length, 1);
      await remove(first);
    } finally {
      await ct.stop();
    }
  });

  it('TSRUNC_SPARE_FORK=0: a next spare that finds the handed-back one starts none and releases the claim', async () => {
    const { ct } = await ownContainerd({ TSRUNC_SPARE_FORK: '0', TSRUNC_SPARE_DELAY_MS: '500' });
    try {
      await ct.ctrOk(['run', '--rm', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), uniqueId(), '/bin/true']);
      const [warm] = await waitFor(() => (ct.readySparePids().length > 0 ? ct.readySparePids() : undefined), { what: 'the task’s process back as the spare' });
      assert.ok(warm !== undefined);
      const argv = argvOf(warm);
      const prefix = argv[argv.indexOf('-control') + 1] ?? '';
      const runner = prefix.slice(prefix.lastIndexOf('-') + 1);
      await waitFor(() => processesWithArgs(['-runner', runner]).filter((pid) => argvOf(pid).includes('next-spare')).length === 0, { what: 'the next spare’s shell to end' });
      assert.deepEqual(ct.sparePids(), [warm], 'it started no spare: the handed-back one is it');
      assert.ok(!existsSync(`${prefix}.lock`), 'the claim is released: the next task may claim the next spare');
      const id = uniqueId();
      await ct.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      assert.equal(shimPidOf(ct, id), warm);
      await waitFor(() => ct.readySparePids().length === 1 && !ct.readySparePids().includes(warm), { what: 'a next spare, claimed by that task' });
      await removeTask(ct, id);
    } finally {
      await ct.stop();
    }
  });

  it('a task’s daemon shows the shim’s name and the task’s flags, comm containerd-shim, however it was started', async () => {
    const shows = (c: Containerd, pid: number, id: string): void => {
      assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'containerd-shim', `comm of ${pid}`);
      const argv = argvOf(pid).join(' ');
      assert.match(argv, new RegExp(`^containerd-shim-tsrunc-v2 -namespace ${c.namespace} -id ${id} -address ${c.address} -socket unix:///run/containerd/s/[0-9a-f]{64}$`));
    };
    // spawned by the Node `start` action: spares off
    const { ct: plain, shimPid: plainPid, remove: removePlain, runDetached: runPlain } = await ownContainerd({ TSRUNC_SPARE: '0' });
    try {
      const id = uniqueId();
      await runPlain(id);
      assert.deepEqual(plain.sparePids(), [], 'no spare with TSRUNC_SPARE=0');
      shows(plain, plainPid(id), id);
      await removePlain(id);
    } finally {
      await plain.stop();
    }
    // a spare started for the first task, then a fork of the forking spare
    const { ct: own, shimPid, remove, runDetached } = await ownContainerd();
    try {
      const { first, second } = await twoTasks(own, runDetached);
      for (const id of [first, second]) shows(own, shimPid(id), id);
      for (const id of [first, second]) await remove(id);
    } finally {
      await own.stop();
    }
  });

  it('a daemon moved into a ShimCgroup does not come back as the spare: it exits after its task', async () => {
    // the pod's cgroup: under cgroup2 when /sys/fs/cgroup is cgroup2, else in two v1 hierarchies
    // (joinCgroup writes every v1 hierarchy that has the path, as on these hybrid machines)
    const name = `tsrunc-shimcg-${uniqueId()}`;
    const unified = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const dirs = unified ? [join('/sys/fs/cgroup', name)] : ['pids', 'memory'].map((c) => join('/sys/fs/cgroup', c, name));
    for (const d of dirs) mkdirSync(d);
    // no next spare while this test runs: the door is free when the task ends
    const own = await Containerd.start({ env: { TSRUNC_SPARE_DELAY_MS: '30000' } });
    try {
      const cfg = join(own.dir, 'shim-cgroup.toml');
      writeFileSync(cfg, `ShimCgroup = "/${name}"\n`);
      const id = uniqueId();
      await own.ctrOk(['run', '-d', '--runtime', OUR_RUNTIME, '--runtime-config-path', cfg, '--rootfs', sharedRootfs(), id, '/bin/sleep', '1000']);
      const pid = Number(readFileSync(join(own.state, 'io.containerd.runtime.v2.task', own.namespace, id, 'shim.pid'), 'utf8'));
      assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`^${unified ? '0:' : '\\d+:pids'}:/${name}$`, 'm'), 'the shim is in the pod cgroup');
      await own.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
      await waitFor(async () => (await own.ctr(['task', 'rm', id])).code === 0, { what: `task ${id} deleted` });
      await own.ctrOk(['container', 'rm', id]);
      await waitFor(() => gone(pid), { what: 'the moved daemon to exit' });
      assert.deepEqual(own.sparePids(), [], 'it did not become the spare');
    } finally {
      await own.stop();
      for (const d of dirs) await waitFor(() => (rmdirQuiet(d), !existsSync(d)), { what: `${d} removed` });
    }
  });

  it('the spare exits with its containerd', async () => {
    const own = await Containerd.start();
    try {
      const id = uniqueId();
      await own.ctrOk(['run', '--rm', '--runtime', OUR_RUNTIME, '--rootfs', sharedRootfs(), id, '/bin/true']);
      const spare = await waitFor(() => own.sparePids()[0], { what: 'a spare for the second containerd' });
      assert.ok(!ct.sparePids().includes(spare), 'each containerd has its own spare');
      const proc = (own as unknown as { process: { kill(signal: string): void } }).process;
      proc.kill('SIGKILL');
      await waitFor(() => gone(spare), { what: 'the spare to notice its containerd is gone and exit' });
    } finally {
      await own.stop();
    }
  });
});
