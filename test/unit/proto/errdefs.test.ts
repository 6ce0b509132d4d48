import assert from 'node:assert/strict';
import { Code, RpcError } from 'ttrpc-ts';
import {
  ERROR_KINDS,
  ErrdefsError,
  StatusCode,
  classText,
  codeOf,
  fromStatus,
  isErrdefsError,
  kindOf,
  stripClassText,
  toStatus,
  wrapError,
  type ErrorKind,
} from '../../../proto';

const CONTAINERD_CLASSES: [ErrorKind, number, string][] = [
  ['invalidArgument', 3, 'invalid argument'],
  ['notFound', 5, 'not found'],
  ['alreadyExists', 6, 'already exists'],
  ['failedPrecondition', 9, 'failed precondition'],
  ['unavailable', 14, 'unavailable'],
  ['notImplemented', 12, 'not implemented'],
  ['unknown', 2, 'unknown'],
  ['canceled', 1, 'context canceled'],
  ['deadlineExceeded', 4, 'context deadline exceeded'],
];

describe('proto/errdefs', () => {
  it('numbers codes exactly like ttrpc-ts Code', () => {
    for (const [name, value] of Object.entries(StatusCode)) assert.equal(Code[name as keyof typeof Code], value, name);
    assert.equal(Object.keys(StatusCode).length, Object.keys(Code).filter((k) => Number.isNaN(Number(k))).length);
  });

  it("maps containerd's classes to codes and texts (PROTOCOL §6.5)", () => {
    for (const [kind, code, text] of CONTAINERD_CLASSES) {
      assert.equal(codeOf(kind), code, kind);
      assert.equal(classText(kind), text, kind);
    }
  });

  it('maps every kind to a distinct code and back', () => {
    assert.equal(new Set(ERROR_KINDS.map(codeOf)).size, ERROR_KINDS.length);
    for (const kind of ERROR_KINDS) {
      assert.equal(kindOf(codeOf(kind)), kind);
      const err = new ErrdefsError(kind, 'boom');
      assert.equal(fromStatus(err.toStatus().code, err.toStatus().message).kind, kind);
      assert.equal(err.code, `ERRDEFS_${kind.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`);
    }
  });

  it('reads codes without a class as unknown', () => {
    for (const code of [StatusCode.OK, StatusCode.ABORTED, StatusCode.OUT_OF_RANGE, StatusCode.DATA_LOSS, StatusCode.UNAUTHENTICATED, 99]) {
      assert.equal(kindOf(code), 'unknown');
    }
  });

  it('sends classified errors as "<detail>: <class text>" and unknown ones plain, as the Go shim does', () => {
    assert.deepEqual(new ErrdefsError('notFound', 'container not created').toStatus(), { code: 5, message: 'container not created: not found' });
    assert.deepEqual(new ErrdefsError('alreadyExists', 'id e1').toStatus(), { code: 6, message: 'id e1: already exists' });
    assert.deepEqual(new ErrdefsError('unknown', 'cannot delete a running process').toStatus(), { code: 2, message: 'cannot delete a running process' });
    assert.deepEqual(new ErrdefsError('notFound', '').toStatus(), { code: 5, message: 'not found' });
    assert.deepEqual(new ErrdefsError('unknown', '').toStatus(), { code: 2, message: 'unknown' });
  });

  it('reads statuses back like containerd FromGRPC: strip, then append the class text', () => {
    const nf = fromStatus(5, 'container not created: not found');
    assert.deepEqual([nf.kind, nf.detail, nf.message, nf.code], ['notFound', 'container not created', 'container not created: not found', 'ERRDEFS_NOT_FOUND']);
    const unk = fromStatus(2, 'cannot delete a running process');
    assert.equal(unk.message, 'cannot delete a running process: unknown');
    assert.equal(fromStatus(2, 'x: unknown').message, 'x: unknown');
    assert.equal(fromStatus(1, 'context canceled').message, 'context canceled');
    assert.equal(fromStatus(1, 'context canceled').detail, '');
    assert.equal(fromStatus(5, 'process already finished: not found').toStatus().message, 'process already finished: not found');
  });

  it('never doubles the class text', () => {
    const e = new ErrdefsError('notFound', 'container not created: not found');
    assert.equal(e.detail, 'container not created');
    assert.equal(e.message, 'container not created: not found');
    assert.equal(stripClassText('notFound', 'a: b'), 'a: b');
    assert.equal(stripClassText('notFound', 'not found'), '');
  });

  it('converts anything thrown to a status once', () => {
    assert.deepEqual(toStatus(new ErrdefsError('failedPrecondition', 'process not created')), { code: 9, message: 'process not created: failed precondition' });
    assert.deepEqual(toStatus(new RpcError(Code.UNIMPLEMENTED, 'method Nope')), { code: 12, message: 'method Nope' });
    assert.deepEqual(toStatus(new RpcError(Code.OK, 'odd')), { code: 2, message: 'odd' });
    assert.deepEqual(toStatus(new Error('plain')), { code: 2, message: 'plain' });
    assert.deepEqual(toStatus(Object.assign(new Error('ENOENT: x'), { code: 'ENOENT' })), { code: 2, message: 'ENOENT: x' });
    assert.deepEqual(toStatus('a string'), { code: 2, message: 'a string' });
  });

  it('wraps errors with context, keeping the kind', () => {
    const inner = new ErrdefsError('notFound', 'no such container');
    const outer = wrapError(inner, 'kill');
    assert.deepEqual([outer.kind, outer.message, outer.cause], ['notFound', 'kill: no such container: not found', inner]);
    assert.equal(wrapError(new Error('eio'), 'read').message, 'read: eio: unknown');
    assert.equal(wrapError(new RpcError(Code.NOT_FOUND, 'gone: not found'), 'state').toStatus().message, 'state: gone: not found');
    assert.ok(isErrdefsError(outer, 'notFound'));
    assert.ok(!isErrdefsError(outer, 'unknown'));
    assert.ok(!isErrdefsError(new Error('x')));
    assert.ok(outer instanceof Error);
    assert.equal(outer.name, 'ErrdefsError');
  });
});
