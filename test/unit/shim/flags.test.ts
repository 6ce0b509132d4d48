/**
 * The shim's command line as containerd writes it (PROTOCOL §2.3, §4.1, §2.5) and the Go `flag`
 * forms it must also accept, plus the environment containerd sets (TTRPC_ADDRESS; 1.7+:
 * NAMESPACE, GRPC_ADDRESS, MAX_SHIM_VERSION).
 */
import assert from 'node:assert/strict';
import { type ShimFlags, UsageError, parseFlags, stripUnix } from '../../../shim/flags';

const BASE: ShimFlags = {
  action: 'serve',
  namespace: '',
  id: '',
  address: '',
  publishBinary: '',
  bundle: '',
  socket: '',
  debug: false,
  ttrpcAddress: '',
  maxShimVersion: 0,
  control: '',
  request: '',
};

function usage(argv: string[], message: string): void {
  assert.throws(
    () => parseFlags(argv, {}),
    (err: unknown) => err instanceof UsageError && err.message === message,
    `${argv.join(' ')} → ${message}`,
  );
}

describe('shim/flags: containerd 1.6 command lines', () => {
  it('parses the observed start invocation (§2.3)', () => {
    const argv = ['-namespace', 'rsrch', '-address', '/tmp/ct/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'rx3', '-debug', 'start'];
    assert.deepEqual(parseFlags(argv, { TTRPC_ADDRESS: '/tmp/ct/containerd.sock.ttrpc', GOMAXPROCS: '2' }), {
      ...BASE,
      action: 'start',
      namespace: 'rsrch',
      id: 'rx3',
      address: '/tmp/ct/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      debug: true,
      ttrpcAddress: '/tmp/ct/containerd.sock.ttrpc',
    });
  });

  it('parses the delete invocation (§4.1)', () => {
    const bundle = '/run/containerd/io.containerd.runtime.v2.task/default/web';
    const argv = ['-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'web', '-bundle', bundle, 'delete'];
    assert.deepEqual(parseFlags(argv, {}), {
      ...BASE,
      action: 'delete',
      namespace: 'default',
      id: 'web',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      bundle,
    });
  });

  it('parses the daemon invocation our start spawns (no action word)', () => {
    const socket = 'unix:///run/containerd/s/acd23c6f85848ad0c1dddf8f48cf04c660d4e907cfd99b16fa3e0b2ed19a55c9';
    const argv = ['-namespace', 'rsrch', '-id', 'rx1', '-address', '/tmp/ct/containerd.sock', '-socket', socket, '-debug'];
    assert.deepEqual(parseFlags(argv, { TTRPC_ADDRESS: '/tmp/ct/containerd.sock.ttrpc' }), {
      ...BASE,
      namespace: 'rsrch',
      id: 'rx1',
      address: '/tmp/ct/containerd.sock',
      socket,
      debug: true,
      ttrpcAddress: '/tmp/ct/containerd.sock.ttrpc',
    });
  });

  it('parses a spare’s invocation, for one request or not, padding and all', () => {
    const control = '/run/containerd/s/tsrunc-door-812';
    assert.deepEqual(parseFlags(['-control', control, 'spare', ' '.repeat(400)], {}), { ...BASE, action: 'spare', control });
    assert.deepEqual(parseFlags(['-control', control, '-request', '4242:9', 'spare', ' '.repeat(400)], {}), { ...BASE, action: 'spare', control, request: '4242:9' });
  });

  it("parses Go's daemon invocation (§2.5: no -socket, no -publish-binary)", () => {
    const flags = parseFlags(['-namespace', 'ns', '-id', 'i', '-address', '/run/containerd/containerd.sock'], {});
    assert.equal(flags.action, 'serve');
    assert.equal(flags.socket, '');
  });
});

describe('shim/flags: Go flag syntax', () => {
  const forms: [string, string[]][] = [
    ['-flag value', ['-id', 'x1', 'start']],
    ['--flag value', ['--id', 'x1', 'start']],
    ['-flag=value', ['-id=x1', 'start']],
    ['--flag=value', ['--id=x1', 'start']],
  ];
  for (const [name, argv] of forms) {
    it(`accepts ${name}`, () => {
      const flags = parseFlags(argv, {});
      assert.equal(flags.id, 'x1');
      assert.equal(flags.action, 'start');
    });
  }

  it('keeps everything after the first = in a value', () => {
    assert.equal(parseFlags(['-bundle=/a=b', 'delete'], {}).bundle, '/a=b');
  });

  it('takes the next argument as the value even when it looks like a flag (as Go does)', () => {
    assert.equal(parseFlags(['-id', '-debug', 'start'], {}).id, '-debug');
  });

  const bools: [string, boolean][] = [
    ['-debug', true],
    ['--debug', true],
    ['-debug=true', true],
    ['-debug=1', true],
    ['-debug=t', true],
    ['-debug=TRUE', true],
    ['-debug=True', true],
    ['-debug=false', false],
    ['-debug=0', false],
    ['-debug=f', false],
    ['-debug=FALSE', false],
  ];
  for (const [arg, value] of bools) it(`${arg} → debug ${value}`, () => assert.equal(parseFlags([arg, 'start'], {}).debug, value));

  it('a boolean flag never takes the next argument as its value', () => {
    usage(['-debug', 'false', 'start'], 'unexpected argument after false: start');
  });

  it('refuses a bad boolean', () => usage(['-debug=maybe'], 'invalid boolean value "maybe" for -debug'));
  it('refuses a missing value', () => usage(['-namespace', 'ns', '-id'], 'flag needs an argument: -id'));
  it('refuses an unknown flag', () => usage(['-foo', 'start'], 'flag provided but not defined: -foo'));
  it('refuses an unknown single-dash flag written with two dashes the same way', () => usage(['--foo=1'], 'flag provided but not defined: -foo'));
  it('refuses an unknown action', () => usage(['-id', 'x', 'stop'], 'unknown action: stop'));
  it('refuses anything after the action (flags must precede it)', () => usage(['-id', 'x', 'start', '-debug'], 'unexpected argument after start: -debug'));

  it('the action is the first non-flag argument, wherever the flags end', () => {
    assert.equal(parseFlags(['start'], {}).action, 'start');
    assert.equal(parseFlags(['-namespace', 'ns', 'delete'], {}).action, 'delete');
    assert.equal(parseFlags(['--', 'start'], {}).action, 'start');
  });

  it('-v and -info select their actions, before any action word', () => {
    assert.equal(parseFlags(['-v'], {}).action, 'version');
    assert.equal(parseFlags(['-info'], {}).action, 'info');
    assert.equal(parseFlags(['-v', 'start'], {}).action, 'version');
    assert.equal(parseFlags(['-v=false', 'start'], {}).action, 'start');
  });

  it('strips unix:// from -address', () => {
    assert.equal(parseFlags(['-address', 'unix:///run/containerd/containerd.sock'], {}).address, '/run/containerd/containerd.sock');
    assert.equal(parseFlags(['-address=unix:///x.sock'], {}).address, '/x.sock');
  });

  it('keeps -socket as given (unix://…)', () => {
    assert.equal(parseFlags(['-socket', 'unix:///run/containerd/s/ab'], {}).socket, 'unix:///run/containerd/s/ab');
  });
});

describe('shim/flags: environment', () => {
  it('TTRPC_ADDRESS as a bare path or with unix://', () => {
    assert.equal(parseFlags([], { TTRPC_ADDRESS: '/run/containerd/containerd.sock.ttrpc' }).ttrpcAddress, '/run/containerd/containerd.sock.ttrpc');
    assert.equal(parseFlags([], { TTRPC_ADDRESS: 'unix:///run/containerd/containerd.sock.ttrpc' }).ttrpcAddress, '/run/containerd/containerd.sock.ttrpc');
    assert.equal(parseFlags([], {}).ttrpcAddress, '');
  });

  it('MAX_SHIM_VERSION: a number, else 0 (containerd 1.6 sets none)', () => {
    assert.equal(parseFlags([], { MAX_SHIM_VERSION: '2' }).maxShimVersion, 2);
    assert.equal(parseFlags([], { MAX_SHIM_VERSION: '3' }).maxShimVersion, 3);
    assert.equal(parseFlags([], { MAX_SHIM_VERSION: 'x' }).maxShimVersion, 0);
    assert.equal(parseFlags([], { MAX_SHIM_VERSION: '' }).maxShimVersion, 0);
    assert.equal(parseFlags([], {}).maxShimVersion, 0);
  });

  it('NAMESPACE and GRPC_ADDRESS fill in when the flags are absent, and the flags win', () => {
    const env = { NAMESPACE: 'k8s.io', GRPC_ADDRESS: 'unix:///run/containerd/containerd.sock' };
    const fromEnv = parseFlags([], env);
    assert.deepEqual([fromEnv.namespace, fromEnv.address], ['k8s.io', '/run/containerd/containerd.sock']);
    const fromFlags = parseFlags(['-namespace', 'default', '-address', '/other.sock'], env);
    assert.deepEqual([fromFlags.namespace, fromFlags.address], ['default', '/other.sock']);
  });

  it('stripUnix leaves a bare path (and an abstract name) alone', () => {
    assert.equal(stripUnix('unix:///a'), '/a');
    assert.equal(stripUnix('/a'), '/a');
    assert.equal(stripUnix('@abstract'), '@abstract');
  });
});
