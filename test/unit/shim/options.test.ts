/**
 * Runtime options (PROTOCOL §9.4): the hand decoder of shim/container/options.ts (built on
 * proto-lite so `start` need not load protobufjs) pinned to the generated codecs — every field of
 * each of the three Any types a client may send — plus the TOML file behind
 * runtimeoptions.v1.Options.config_path and the options.json/runtime files `delete` reads.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runcOptions, runctypes, runtimeOptions, wellKnown } from '../../../proto';
import {
  CREATE_OPTIONS_URL,
  OptionsError,
  RUNC_OPTIONS_URL,
  RUNTIME_OPTIONS_URL,
  type RuncOptions,
  decodeAny,
  decodeOptions,
  defaultOptions,
  loadOptionsFile,
  loadSavedOptions,
  runcBinary,
  runcRoot,
  saveOptions,
} from '../../../shim/container/options';
import { tempDir } from './fakes';

function anyBytes(typeUrl: string, value: Uint8Array): Uint8Array {
  return wellKnown.Any.encode({ typeUrl, value }).finish();
}

function decodeFromWire(typeUrl: string, value: Uint8Array): RuncOptions {
  return decodeOptions(decodeAny(anyBytes(typeUrl, value)));
}

function optionsError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof OptionsError && (typeof message === 'string' ? err.message === message : message.test(err.message)));
}

describe('shim/container/options: Any decoding pinned to the generated codecs', () => {
  it('containerd.runc.v1.Options, every field set', () => {
    const value = runcOptions.Options.encode({
      noPivotRoot: true,
      noNewKeyring: true,
      shimCgroup: '/kubepods/shim',
      ioUid: 1000,
      ioGid: 4294967295,
      binaryName: '/usr/local/bin/crun',
      root: '/run/custom-runc',
      criuPath: '/usr/sbin/criu',
      systemdCgroup: true,
      criuImagePath: '/var/lib/ck/image',
      criuWorkPath: '/var/lib/ck/work',
    }).finish();
    assert.deepEqual(decodeFromWire(RUNC_OPTIONS_URL, value), {
      noPivotRoot: true,
      noNewKeyring: true,
      shimCgroup: '/kubepods/shim',
      ioUid: 1000,
      ioGid: 4294967295,
      binaryName: '/usr/local/bin/crun',
      root: '/run/custom-runc',
      criuPath: '/usr/sbin/criu',
      systemdCgroup: true,
      criuImagePath: '/var/lib/ck/image',
      criuWorkPath: '/var/lib/ck/work',
    });
  });

  it('containerd.runc.v1.Options, each field alone (field numbers not crossed)', () => {
    const singles: [Partial<RuncOptions>][] = [
      [{ noPivotRoot: true }],
      [{ noNewKeyring: true }],
      [{ shimCgroup: 'c' }],
      [{ ioUid: 1 }],
      [{ ioGid: 2 }],
      [{ binaryName: 'b' }],
      [{ root: 'r' }],
      [{ criuPath: 'p' }],
      [{ systemdCgroup: true }],
      [{ criuImagePath: 'i' }],
      [{ criuWorkPath: 'w' }],
    ];
    for (const [fields] of singles) {
      const value = runcOptions.Options.encode(fields).finish();
      assert.deepEqual(decodeFromWire(RUNC_OPTIONS_URL, value), { ...defaultOptions(), ...fields }, JSON.stringify(fields));
    }
  });

  it('containerd.runc.v1.Options as ctr sends it: the type URL only (28 bytes, §2.3)', () => {
    const bytes = anyBytes(RUNC_OPTIONS_URL, new Uint8Array(0));
    assert.equal(Buffer.from(bytes).toString('hex'), `0a1a${Buffer.from(RUNC_OPTIONS_URL).toString('hex')}`);
    assert.equal(bytes.length, 28);
    assert.deepEqual(decodeOptions(decodeAny(bytes)), defaultOptions());
  });

  it('containerd.linux.runc.CreateOptions: the runtime fields, the checkpoint fields ignored', () => {
    const value = runctypes.CreateOptions.encode({
      noPivotRoot: true,
      openTcp: true,
      externalUnixSockets: true,
      terminal: true,
      fileLocks: true,
      emptyNamespaces: ['network', 'ipc'],
      cgroupsMode: 'hybrid',
      noNewKeyring: true,
      shimCgroup: '/shim',
      ioUid: 65534,
      ioGid: 65533,
      criuWorkPath: '/w',
      criuImagePath: '/i',
    }).finish();
    assert.deepEqual(decodeFromWire(CREATE_OPTIONS_URL, value), {
      ...defaultOptions(),
      noPivotRoot: true,
      noNewKeyring: true,
      shimCgroup: '/shim',
      ioUid: 65534,
      ioGid: 65533,
      criuWorkPath: '/w',
      criuImagePath: '/i',
    });
  });

  it('accepts type URLs with a type.googleapis.com/ style prefix', () => {
    const value = runcOptions.Options.encode({ binaryName: 'crun' }).finish();
    for (const prefix of ['type.googleapis.com/', 'example.com/types/']) {
      assert.equal(decodeFromWire(`${prefix}${RUNC_OPTIONS_URL}`, value).binaryName, 'crun', prefix);
    }
    const create = runctypes.CreateOptions.encode({ ioUid: 7 }).finish();
    assert.equal(decodeFromWire(`type.googleapis.com/${CREATE_OPTIONS_URL}`, create).ioUid, 7);
  });

  it('no options: null, an empty Any, an empty type URL', () => {
    assert.deepEqual(decodeOptions(null), defaultOptions());
    assert.deepEqual(decodeOptions(undefined), defaultOptions());
    assert.deepEqual(decodeOptions(decodeAny(new Uint8Array(0))), defaultOptions());
    assert.deepEqual(decodeOptions({ typeUrl: '', value: new Uint8Array([1, 2, 3]) }), defaultOptions());
  });

  it('an unknown type is an OptionsError naming it and the accepted types', () => {
    optionsError(
      () => decodeFromWire('containerd.linux.runc.RuncOptions', new Uint8Array(0)),
      `unsupported runtime options type containerd.linux.runc.RuncOptions: expected ${RUNC_OPTIONS_URL}, ${CREATE_OPTIONS_URL} or ${RUNTIME_OPTIONS_URL}`,
    );
  });

  it('undecodable bytes are an OptionsError (wrong wire type, truncation)', () => {
    optionsError(() => decodeOptions({ typeUrl: RUNC_OPTIONS_URL, value: new Uint8Array([0x30, 0x01]) }), `cannot decode runtime options ${RUNC_OPTIONS_URL}: field 6 has wire type 0`);
    optionsError(() => decodeOptions({ typeUrl: RUNC_OPTIONS_URL, value: new Uint8Array([0x32, 0x05, 0x61]) }), /cannot decode runtime options .*truncated/);
  });

  it('skips unknown fields of every wire type', () => {
    const value = Buffer.concat([
      Buffer.from([0xa0, 0x06, 0x01]), // field 100 varint
      Buffer.from([0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]), // field 101 fixed64
      Buffer.from([0xb2, 0x06, 0x02, 0x68, 0x69]), // field 102 bytes
      Buffer.from([0xbd, 0x06, 1, 2, 3, 4]), // field 103 fixed32
      Buffer.from(runcOptions.Options.encode({ root: '/r' }).finish()),
    ]);
    assert.equal(decodeFromWire(RUNC_OPTIONS_URL, value).root, '/r');
  });

  it('decodeAny reads what wellKnown.Any encodes, fields in any order', () => {
    const value = new Uint8Array([1, 2, 3]);
    const any = decodeAny(anyBytes('x.Y', value));
    assert.deepEqual([any.typeUrl, [...any.value]], ['x.Y', [1, 2, 3]]);
    const reversed = decodeAny(Uint8Array.from([0x12, 0x01, 0x09, 0x0a, 0x01, 0x5a]));
    assert.deepEqual([reversed.typeUrl, [...reversed.value]], ['Z', [9]]);
  });
});

describe('shim/container/options: runtimeoptions.v1.Options and its TOML file', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  function file(text: string): string {
    const path = join(dir.path, 'runtime.toml');
    writeFileSync(path, text);
    return path;
  }
  function viaAny(configPath: string): RuncOptions {
    return decodeFromWire(RUNTIME_OPTIONS_URL, runtimeOptions.Options.encode({ typeUrl: RUNC_OPTIONS_URL, configPath }).finish());
  }

  it('reads every key by its Go name', () => {
    const path = file(
      [
        'BinaryName = "crun"',
        'Root = "/run/crun"',
        'SystemdCgroup = true',
        'NoPivotRoot = true',
        'NoNewKeyring = true',
        'IoUid = 1000',
        'IoGid = 1001',
        'CriuPath = "/sbin/criu"',
        'ShimCgroup = "/shim"',
        'CriuImagePath = "/img"',
        'CriuWorkPath = "/work"',
      ].join('\n'),
    );
    assert.deepEqual(viaAny(path), {
      binaryName: 'crun',
      root: '/run/crun',
      systemdCgroup: true,
      noPivotRoot: true,
      noNewKeyring: true,
      ioUid: 1000,
      ioGid: 1001,
      criuPath: '/sbin/criu',
      shimCgroup: '/shim',
      criuImagePath: '/img',
      criuWorkPath: '/work',
    });
  });

  it('reads every key by its proto (snake_case) name, inside an [options] table as CRI writes it', () => {
    const path = file(
      [
        '# CRI runtime handler options',
        '[options]',
        'binary_name = "crun"',
        'root = "/run/crun"',
        'systemd_cgroup = true',
        'no_pivot_root = true',
        'no_new_keyring = true',
        'io_uid = 0x10',
        'io_gid = 4_294_967_295',
        'criu_path = "/sbin/criu"',
        'shim_cgroup = "/shim"',
        'criu_image_path = "/img"',
        'criu_work_path = "/work"',
      ].join('\n'),
    );
    assert.deepEqual(viaAny(path), {
      binaryName: 'crun',
      root: '/run/crun',
      systemdCgroup: true,
      noPivotRoot: true,
      noNewKeyring: true,
      ioUid: 16,
      ioGid: 4294967295,
      criuPath: '/sbin/criu',
      shimCgroup: '/shim',
      criuImagePath: '/img',
      criuWorkPath: '/work',
    });
  });

  it('an empty config_path means defaults; the file is not needed', () => {
    assert.deepEqual(viaAny(''), defaultOptions());
  });

  it('a missing file is an OptionsError', () => {
    const path = join(dir.path, 'nope.toml');
    optionsError(() => viaAny(path), `runtime options file ${path}: no such file`);
  });

  it('a TOML syntax error is an OptionsError with the line', () => {
    const path = file('BinaryName = "crun"\nRoot = ');
    optionsError(() => loadOptionsFile(path), `runtime options file ${path}: line 2: expected a value`);
  });

  it('refuses an unknown key', () => {
    const path = file('BinaryName = "crun"\nRuntimeRoot = "/x"');
    optionsError(() => loadOptionsFile(path), `runtime options file ${path}: unknown key RuntimeRoot`);
  });

  it('refuses an unknown table', () => {
    const path = file('[plugins]\nx = 1');
    optionsError(() => loadOptionsFile(path), `runtime options file ${path}: unknown key plugins`);
  });

  const wrongTypes: [string, string][] = [
    ['BinaryName = 1', 'BinaryName must be a string'],
    ['SystemdCgroup = "true"', 'SystemdCgroup must be a boolean'],
    ['IoUid = -1', 'IoUid must be a non-negative integer'],
    ['IoUid = 1.5', 'IoUid must be a non-negative integer'],
    ['io_gid = 4294967296', 'io_gid must be a non-negative integer'],
    ['root = ["/a"]', 'root must be a string'],
  ];
  for (const [text, why] of wrongTypes) {
    it(`refuses a wrong type: ${text}`, () => {
      const path = file(text);
      optionsError(() => loadOptionsFile(path), `runtime options file ${path}: ${why}`);
    });
  }

  it('refuses a key named like an Object.prototype member as unknown', () => {
    const path = file('toString = "x"');
    optionsError(() => loadOptionsFile(path), `runtime options file ${path}: unknown key toString`);
  });

  it('refuses an options key that is not a table', () => {
    const path = file('options = "crun"');
    optionsError(() => loadOptionsFile(path), /options/);
  });
});

describe('shim/container/options: options.json and runtime for the delete action', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  const full: RuncOptions = {
    binaryName: 'crun',
    root: '/run/crun',
    systemdCgroup: true,
    noPivotRoot: true,
    noNewKeyring: true,
    ioUid: 1000,
    ioGid: 1001,
    criuPath: '/sbin/criu',
    shimCgroup: '/shim',
    criuImagePath: '/img',
    criuWorkPath: '/work',
  };

  it("writes Go's format: snake_case keys in field order, zero values omitted, mode 0600", () => {
    saveOptions(dir.path, full);
    assert.equal(
      readFileSync(join(dir.path, 'options.json'), 'utf8'),
      '{"no_pivot_root":true,"no_new_keyring":true,"shim_cgroup":"/shim","io_uid":1000,"io_gid":1001,"binary_name":"crun","root":"/run/crun","criu_path":"/sbin/criu","systemd_cgroup":true,"criu_image_path":"/img","criu_work_path":"/work"}',
    );
    assert.equal(readFileSync(join(dir.path, 'runtime'), 'utf8'), 'crun');
    assert.equal(statSync(join(dir.path, 'options.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir.path, 'runtime')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir.path).sort(), ['options.json', 'runtime'], 'no temporary file left');
  });

  it('writes {} and "runc" for the defaults', () => {
    saveOptions(dir.path, defaultOptions());
    assert.equal(readFileSync(join(dir.path, 'options.json'), 'utf8'), '{}');
    assert.equal(readFileSync(join(dir.path, 'runtime'), 'utf8'), 'runc');
  });

  it('round-trips through loadSavedOptions', () => {
    saveOptions(dir.path, full);
    assert.deepEqual(loadSavedOptions(dir.path), full);
    saveOptions(dir.path, { ...defaultOptions(), ioGid: 5 });
    assert.deepEqual(loadSavedOptions(dir.path), { ...defaultOptions(), ioGid: 5 });
  });

  it("reads what the Go shim wrote (options.json with snake_case keys, runtime without newline)", () => {
    writeFileSync(join(dir.path, 'options.json'), '{"binary_name":"runc","root":"/run/other","systemd_cgroup":true}');
    writeFileSync(join(dir.path, 'runtime'), 'runc');
    assert.deepEqual(loadSavedOptions(dir.path), { ...defaultOptions(), binaryName: 'runc', root: '/run/other', systemdCgroup: true });
  });

  it('defaults when nothing (or garbage) was saved', () => {
    assert.deepEqual(loadSavedOptions(dir.path), defaultOptions());
    writeFileSync(join(dir.path, 'options.json'), '{not json');
    assert.deepEqual(loadSavedOptions(dir.path), defaultOptions());
  });

  it('the runtime file names the binary when options.json does not', () => {
    writeFileSync(join(dir.path, 'runtime'), 'crun\n');
    assert.equal(loadSavedOptions(dir.path).binaryName, 'crun');
  });

  it('runcBinary and runcRoot', () => {
    assert.equal(runcBinary(defaultOptions()), 'runc');
    assert.equal(runcBinary({ ...defaultOptions(), binaryName: 'crun' }), 'crun');
    assert.equal(runcRoot(defaultOptions(), 'rsrch'), '/run/containerd/runc/rsrch');
    assert.equal(runcRoot({ ...defaultOptions(), root: '/run/r/' }, 'k8s.io'), '/run/r/k8s.io');
  });
});
