/**
 * The `delete` action (PROTOCOL §4.3) on a temporary bundle, with a fake runc script named by the
 * bundle's `runtime` file: `runc delete --force` with the saved root and namespace, the
 * DeleteResponse (pid from init.pid or 2^32−1, status 137, now), warnings only for real failures,
 * and a stale socket of ours removed while a live one is kept.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { task, toNumber } from '../../../proto';
import { type ShimFlags } from '../../../shim/flags';
import { del } from '../../../shim/manager/delete';
import { tempDir } from './fakes';

const FAKE_RUNC = `#!/bin/sh
dir=$(dirname "$0")
printf '%s\\n' "$*" >> "$dir/runc-argv"
case "$FAKE_RUNC_MODE" in
  missing) printf '{"level":"error","msg":"container \\\\"%s\\\\" does not exist"}\\n' "x" >> "$dir/log.json"; exit 1 ;;
  broken) printf '{"level":"error","msg":"cgroup: permission denied"}\\n' >> "$dir/log.json"; exit 1 ;;
esac
exit 0
`;

describe('shim/manager/delete: the delete action', () => {
  let dir: ReturnType<typeof tempDir>;
  let warnings: string[];
  const servers: net.Server[] = [];
  beforeEach(() => {
    dir = tempDir();
    warnings = [];
    const runc = join(dir.path, 'fake-runc');
    writeFileSync(runc, FAKE_RUNC);
    chmodSync(runc, 0o755);
    writeFileSync(join(dir.path, 'runtime'), runc);
    delete process.env['FAKE_RUNC_MODE'];
  });
  afterEach(async () => {
    delete process.env['FAKE_RUNC_MODE'];
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    dir.cleanup();
  });

  function flags(): ShimFlags {
    return { action: 'delete', namespace: 'rsrch', id: 'rx2', address: '/run/containerd/containerd.sock', publishBinary: '', bundle: dir.path, socket: '', debug: false, ttrpcAddress: '', maxShimVersion: 0, control: '', request: '' };
  }
  const run = (): Promise<Uint8Array> => del(flags(), (m) => warnings.push(m));

  it('runs runc delete --force with the saved root and prints pid, 137 and now', async () => {
    const root = join(dir.path, 'custom');
    mkdirSync(join(root, 'rsrch', 'rx2'), { recursive: true }); // runc's state of the task
    writeFileSync(join(dir.path, 'options.json'), JSON.stringify({ root }));
    writeFileSync(join(dir.path, 'init.pid'), '8398\n');
    const before = Date.now();
    const r = task.DeleteResponse.decode(await run());
    const after = Date.now();
    assert.equal(readFileSync(join(dir.path, 'runc-argv'), 'utf8'), `--root ${root}/rsrch --log ${dir.path}/log.json --log-format json delete --force rx2\n`);
    assert.equal(r.pid, 8398);
    assert.equal(r.exitStatus, 137);
    const ms = toNumber(r.exitedAt?.seconds ?? 0) * 1000 + Math.floor((r.exitedAt?.nanos ?? 0) / 1e6);
    assert.ok(ms >= before - 1 && ms <= after, `${before} <= ${ms} <= ${after}`);
    assert.deepEqual(warnings, []);
  });

  it('passes --systemd-cgroup and --criu from the saved options', async () => {
    const root = join(dir.path, 'custom');
    mkdirSync(join(root, 'rsrch', 'rx2'), { recursive: true });
    writeFileSync(join(dir.path, 'options.json'), JSON.stringify({ root, systemd_cgroup: true, criu_path: '/sbin/criu' }));
    await run();
    assert.equal(readFileSync(join(dir.path, 'runc-argv'), 'utf8'), `--root ${root}/rsrch --log ${dir.path}/log.json --log-format json --criu /sbin/criu --systemd-cgroup delete --force rx2\n`);
  });

  it('a missing pid file gives pid 4294967295', async () => {
    const bytes = Buffer.from(await run());
    assert.equal(bytes.subarray(0, 6).toString('hex'), '08ffffffff0f');
    assert.equal(task.DeleteResponse.decode(bytes).pid, 4294967295);
  });

  it('a pid file without a pid gives 4294967295 too', async () => {
    writeFileSync(join(dir.path, 'init.pid'), 'garbage');
    assert.equal(task.DeleteResponse.decode(await run()).pid, 4294967295);
  });

  it('is quiet when the container is gone already (idempotent after a normal Delete)', async () => {
    process.env['FAKE_RUNC_MODE'] = 'missing';
    mkdirSync(join(dir.path, 'custom', 'rsrch', 'rx2'), { recursive: true });
    writeFileSync(join(dir.path, 'options.json'), JSON.stringify({ root: join(dir.path, 'custom') }));
    const r = task.DeleteResponse.decode(await run());
    assert.equal(r.exitStatus, 137);
    assert.deepEqual(warnings, []);
  });

  it('spawns no runc when runc holds no state for the task (the usual case after a Delete)', async () => {
    writeFileSync(join(dir.path, 'options.json'), JSON.stringify({ root: join(dir.path, 'custom') }));
    const r = task.DeleteResponse.decode(await run());
    assert.equal(r.exitStatus, 137);
    assert.equal(existsSync(join(dir.path, 'runc-argv')), false);
    assert.deepEqual(warnings, []);
  });

  it('warns (and still answers) when runc fails otherwise', async () => {
    process.env['FAKE_RUNC_MODE'] = 'broken';
    mkdirSync(join(dir.path, 'custom', 'rsrch', 'rx2'), { recursive: true });
    writeFileSync(join(dir.path, 'options.json'), JSON.stringify({ root: join(dir.path, 'custom') }));
    const r = task.DeleteResponse.decode(await run());
    assert.equal(r.exitStatus, 137);
    assert.deepEqual(warnings, ['failed to remove runc container: cgroup: permission denied']);
  });

  it('refuses an invalid namespace or id before touching anything', async () => {
    await assert.rejects(del({ ...flags(), id: '../x' }, () => undefined), /invalid namespace or id/);
    assert.equal(existsSync(join(dir.path, 'runc-argv')), false);
  });

  it('removes our socket when nothing answers on it, keeps it when a shim does', async () => {
    const stale = join(dir.path, 'stale.sock');
    const old = net.createServer();
    await new Promise<void>((resolve) => old.listen(stale, resolve));
    linkSync(stale, `${stale}.keep`);
    await new Promise<void>((resolve) => old.close(() => resolve()));
    renameSync(`${stale}.keep`, stale);
    writeFileSync(join(dir.path, 'address'), `unix://${stale}`);
    await run();
    assert.equal(existsSync(stale), false, 'stale socket removed');

    const live = join(dir.path, 'live.sock');
    const server = net.createServer((s) => s.destroy());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(live, resolve));
    writeFileSync(join(dir.path, 'address'), `unix://${live}`);
    await run();
    assert.equal(existsSync(live), true, 'a live (grouped) shim keeps its socket');
  });
});
