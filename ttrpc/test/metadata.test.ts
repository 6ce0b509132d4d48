/** Metadata multimap, status helpers and deadline conversions. */
import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { DeadlineTimer, deadlineFromTimeoutNano, timeoutNanoFromDeadline } from '../deadline';
import { ClosedError, TtrpcError } from '../errors';
import { Metadata } from '../metadata';
import { Code, RpcError, codeName, isRpcError, toStatus } from '../status';

describe('Metadata', () => {
  it('lower-cases keys and gathers repeated keys into a list, in order', () => {
    const md = Metadata.fromKeyValues([
      { key: 'A', value: '1' },
      { key: 'b', value: 'x' },
      { key: 'a', value: '2' },
    ]);
    assert.equal(md.get('a'), '1');
    assert.deepEqual(md.getAll('A'), ['1', '2']);
    assert.deepEqual(md.toKeyValues(), [
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
      { key: 'b', value: 'x' },
    ]);
  });

  it('builds from objects, pairs and other Metadata; set replaces, empty set deletes', () => {
    const md = new Metadata({ 'containerd-namespace-ttrpc': 'default', list: ['1', '2'] });
    assert.deepEqual(new Metadata(md).toJSON(), { 'containerd-namespace-ttrpc': ['default'], list: ['1', '2'] });
    assert.deepEqual(new Metadata([['k', 'v']]).toJSON(), { k: ['v'] });
    md.set('list', '3');
    assert.deepEqual(md.getAll('list'), ['3']);
    md.set('list');
    assert.equal(md.has('list'), false);
    assert.equal(md.get('missing'), undefined);
    assert.deepEqual(md.getAll('missing'), []);
  });
});

describe('status', () => {
  it('names codes stably', () => {
    assert.equal(codeName(Code.NOT_FOUND), 'NOT_FOUND');
    assert.equal(codeName(99), 'CODE_99');
    assert.equal(new RpcError(Code.UNIMPLEMENTED, 'x').codeName, 'UNIMPLEMENTED');
  });

  it('maps thrown values to a wire status once', () => {
    assert.deepEqual(toStatus(new RpcError(Code.NOT_FOUND, 'container not created: not found')), { code: 5, message: 'container not created: not found', details: [] });
    assert.deepEqual(toStatus(new Error('cannot delete a running process')), { code: 2, message: 'cannot delete a running process', details: [] });
    assert.deepEqual(toStatus('plain string'), { code: 2, message: 'plain string', details: [] });
    assert.equal(toStatus(new RpcError(Code.OK, 'not ok')).code, Code.UNKNOWN);
  });

  it('local errors carry stable codes', () => {
    const err = new ClosedError();
    assert.ok(err instanceof TtrpcError);
    assert.equal(err.code, 'TTRPC_ERR_CLOSED');
    assert.equal(err.message, 'ttrpc: closed');
    assert.ok(isRpcError(new RpcError(Code.ABORTED, 'a'), Code.ABORTED));
    assert.ok(!isRpcError(err));
  });
});

describe('deadlines', () => {
  it('converts timeout_nano to an absolute deadline and back', () => {
    assert.equal(deadlineFromTimeoutNano(0n, 1000), undefined);
    assert.equal(deadlineFromTimeoutNano(2_000_000_000n, 1000), 3000);
    assert.equal(deadlineFromTimeoutNano(-5n, 1000)! < 1000, true);
    assert.equal(timeoutNanoFromDeadline(3000, 1000), 2_000_000_000n);
    assert.equal(timeoutNanoFromDeadline(1000, 1000), 1n);
  });

  it('DeadlineTimer fires at deadlines beyond setTimeout’s 24.8-day limit, not at once', () => {
    const clock = sinon.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const fired = sinon.spy();
      const days40 = 40 * 24 * 3600 * 1000;
      const timer = new DeadlineTimer(days40, fired);
      clock.tick(2 ** 31);
      assert.equal(fired.callCount, 0);
      clock.tick(days40 - 2 ** 31 - 1);
      assert.equal(fired.callCount, 0);
      clock.tick(1);
      assert.equal(fired.callCount, 1);
      timer.cancel();
    } finally {
      clock.restore();
    }
  });
});
