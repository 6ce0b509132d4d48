import assert from 'node:assert/strict';
import { parseBootstrap, socketPathOf } from '../../../supervisor/shims/bootstrap';

describe('supervisor/shims/bootstrap: the reply of `start`', () => {
  const sock = 'unix:///run/containerd/s/0123abcd';

  it('a plain address (containerd 1.6, our shim, Go 1.x shims): version 2', () => {
    assert.deepEqual(parseBootstrap(sock), { version: 2, address: sock, protocol: 'ttrpc' });
    assert.deepEqual(parseBootstrap(`\n  ${sock}\n`), { version: 2, address: sock, protocol: 'ttrpc' }, 'whitespace is trimmed');
  });

  it('JSON version 2 and 3 (containerd 1.7 / 2.x shims); 3 means containerd.task.v3.Task', () => {
    assert.deepEqual(parseBootstrap(`{"version":2,"address":"${sock}","protocol":"ttrpc"}`), { version: 2, address: sock, protocol: 'ttrpc' });
    assert.deepEqual(parseBootstrap(`{"version":3,"address":"${sock}","protocol":"TTRPC"}\n`), { version: 3, address: sock, protocol: 'ttrpc' });
    assert.deepEqual(parseBootstrap(`{"version":3,"address":"${sock}"}`), { version: 3, address: sock, protocol: 'ttrpc' }, 'protocol defaults to ttrpc');
  });

  it('refuses what we cannot speak or trust, with a clear error', () => {
    const cases: [string, string, RegExp][] = [
      [`{"version":4,"address":"${sock}","protocol":"ttrpc"}`, 'notImplemented', /unsupported shim version \(4\)/],
      [`{"version":3,"address":"${sock}","protocol":"grpc"}`, 'notImplemented', /protocol grpc is not supported/],
      [`{"version":1,"address":"${sock}"}`, 'failedPrecondition', /version 1 is below 2/],
      [`{"version":"3","address":"${sock}"}`, 'failedPrecondition', /no integer "version"/],
      [`{"version":3}`, 'failedPrecondition', /no "address"/],
      [`{"version":3,"address":"${sock}","protocol":"http"}`, 'failedPrecondition', /unknown shim protocol/],
      ['{"version":3,', 'failedPrecondition', /malformed JSON/],
      ['{"version":3,"address":"unix:///x"} trailing', 'failedPrecondition', /malformed JSON/],
      ['', 'failedPrecondition', /printed no address/],
      ['   \n', 'failedPrecondition', /printed no address/],
      ['/run/containerd/s/abc', 'failedPrecondition', /abstract sockets are refused/],
      ['unix://relative/path', 'failedPrecondition', /not an absolute path/],
      [`time="…" level=warning msg=x\n${sock}`, 'failedPrecondition', /more than an address/],
    ];
    for (const [text, kind, message] of cases) assert.throws(() => parseBootstrap(text), (err: { kind?: string; message?: string }) => err.kind === kind && message.test(err.message ?? ''), text);
  });

  it('gives the socket path of an address', () => {
    assert.equal(socketPathOf(sock), '/run/containerd/s/0123abcd');
    assert.equal(socketPathOf('/x.sock'), '/x.sock');
  });
});
