import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  METRICS_V1_TYPE_URL,
  METRICS_V2_TYPE_URL,
  OCI_LINUX_RESOURCES_TYPE_URL,
  OCI_PROCESS_TYPE_URL,
  OCI_SPEC_TYPE_URL,
  TASK_EVENTS,
  TypeUrlMismatchError,
  U64_MAX,
  UnknownTypeUrlError,
  isKnownTypeUrl,
  isU64Max,
  knownTypeUrls,
  packAny,
  packJson,
  packMessage,
  runcOptions,
  task,
  toBigInt,
  unpackAny,
  unpackAnyAs,
  unpackJson,
} from '../../../proto';
import { toHex } from './fixtures';

describe('proto/any', () => {
  it('knows the runc options, legacy runctypes, runtimeoptions, metrics, events and OCI JSON types', () => {
    const urls = knownTypeUrls();
    for (const url of [
      'containerd.runc.v1.Options',
      'containerd.runc.v1.CheckpointOptions',
      'containerd.runc.v1.ProcessDetails',
      'containerd.linux.runc.CreateOptions',
      'containerd.linux.runc.RuncOptions',
      'runtimeoptions.v1.Options',
      METRICS_V1_TYPE_URL,
      METRICS_V2_TYPE_URL,
      OCI_SPEC_TYPE_URL,
      OCI_PROCESS_TYPE_URL,
      OCI_LINUX_RESOURCES_TYPE_URL,
      ...TASK_EVENTS.map((e) => e.typeUrl),
    ]) {
      assert.ok(urls.includes(url as (typeof urls)[number]), url);
    }
    assert.ok(urls.every((u) => !u.startsWith('type.googleapis.com/')));
  });

  it('packs and unpacks messages under their bare full name', () => {
    const any = packAny('containerd.runc.v1.Options', { binaryName: 'runc', root: '/run/x', systemdCgroup: true });
    assert.equal(any.typeUrl, 'containerd.runc.v1.Options');
    const u = unpackAny(any);
    assert.equal(u.typeUrl, 'containerd.runc.v1.Options');
    if (u.typeUrl !== 'containerd.runc.v1.Options') throw new Error('unreachable');
    assert.deepEqual([u.value.binaryName, u.value.root, u.value.systemdCgroup, u.value.noPivotRoot], ['runc', '/run/x', true, false]);
    const details = unpackAnyAs(packAny('containerd.runc.v1.ProcessDetails', { execId: 'e1' }), 'containerd.runc.v1.ProcessDetails');
    assert.equal(details.execId, 'e1');
    const custom = packMessage('containerd.runc.v1.Options', runcOptions.Options, { root: '/r' });
    assert.equal(unpackAnyAs(custom, 'containerd.runc.v1.Options').root, '/r');
    const rto = unpackAnyAs(packAny('runtimeoptions.v1.Options', { typeUrl: 'x', configPath: '/etc/t.toml' }), 'runtimeoptions.v1.Options');
    assert.deepEqual([rto.typeUrl, rto.configPath], ['x', '/etc/t.toml']);
  });

  it('packs cgroup metrics, 64-bit values intact', () => {
    const any = packAny(METRICS_V2_TYPE_URL, { pids: { current: U64_MAX, limit: U64_MAX }, memory: { usageLimit: U64_MAX } });
    const m = unpackAnyAs(any, METRICS_V2_TYPE_URL);
    assert.ok(isU64Max(m.pids?.limit));
    assert.equal(toBigInt(m.memory?.usageLimit), 18446744073709551615n);
    const v1 = unpackAnyAs(packAny(METRICS_V1_TYPE_URL, { memory: { usage: { limit: U64_MAX } } }), METRICS_V1_TYPE_URL);
    assert.ok(isU64Max(v1.memory?.usage?.limit));
  });

  it('carries the OCI types as JSON', () => {
    const process = { terminal: false, args: ['/bin/sh', '-c', 'echo hi'], cwd: '/' };
    const any = packAny(OCI_PROCESS_TYPE_URL, process);
    assert.equal(any.typeUrl, 'types.containerd.io/opencontainers/runtime-spec/1/Process');
    assert.equal(Buffer.from(any.value).toString('utf8'), JSON.stringify(process));
    assert.deepEqual(unpackJson(any, OCI_PROCESS_TYPE_URL), process);
    const resources = { memory: { limit: 67108864 } };
    const u = unpackAny(packJson(OCI_LINUX_RESOURCES_TYPE_URL, resources));
    assert.deepEqual(u, { typeUrl: OCI_LINUX_RESOURCES_TYPE_URL, value: resources });
    assert.equal(toHex(packJson(OCI_SPEC_TYPE_URL, undefined).value), toHex(Buffer.from('null')));
    assert.throws(() => unpackJson({ typeUrl: OCI_SPEC_TYPE_URL, value: Buffer.from('{') }), SyntaxError);
  });

  it('refuses unknown type URLs with a clear error', () => {
    const err = (() => {
      try {
        unpackAny({ typeUrl: 'type.googleapis.com/containerd.runc.v1.Options', value: new Uint8Array() });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof UnknownTypeUrlError);
    assert.equal(err.code, 'ERR_PROTO_UNKNOWN_TYPE_URL');
    assert.equal(err.typeUrl, 'type.googleapis.com/containerd.runc.v1.Options');
    assert.match(err.message, /unknown Any type URL "type\.googleapis\.com\/containerd\.runc\.v1\.Options"/);
    assert.throws(() => unpackAny({}), UnknownTypeUrlError);
    assert.ok(!isKnownTypeUrl('containerd.task.v2.StateRequest'));
  });

  it('refuses an Any of another type than asked', () => {
    const any = packAny('containerd.runc.v1.Options', {});
    assert.throws(() => unpackAnyAs(any, 'containerd.linux.runc.CreateOptions'), (e: unknown) => e instanceof TypeUrlMismatchError && e.code === 'ERR_PROTO_TYPE_URL_MISMATCH');
    assert.throws(() => unpackJson(any, OCI_SPEC_TYPE_URL), TypeUrlMismatchError);
  });

  it('loads gen/cgroups.js only when a metrics Any is touched', () => {
    const index = path.resolve(__dirname, '../../../proto/index.js');
    const script = `
      const p = require(${JSON.stringify(index)});
      const loaded = () => Object.keys(require.cache).some((k) => k.endsWith('/gen/cgroups.js'));
      const before = loaded();
      p.unpackAny(p.packAny('containerd.runc.v1.Options', {}));
      const afterOptions = loaded();
      p.packAny(${JSON.stringify(METRICS_V2_TYPE_URL)}, {});
      process.stdout.write(JSON.stringify([before, afterOptions, loaded()]));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [false, false, true]);
  });

  it('Task messages carry Anys with camelCase typeUrl', () => {
    const req = task.ExecProcessRequest.decode(
      task.ExecProcessRequest.encode({ id: 'c', execId: 'e', spec: packJson(OCI_PROCESS_TYPE_URL, { args: ['true'] }) }).finish(),
    );
    assert.equal(req.spec?.typeUrl, OCI_PROCESS_TYPE_URL);
    assert.deepEqual(unpackJson(req.spec ?? {}, OCI_PROCESS_TYPE_URL), { args: ['true'] });
  });
});
