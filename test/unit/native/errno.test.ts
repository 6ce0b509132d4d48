import assert from 'node:assert/strict';
import { errnoName, isErrno, systemError } from '../../../native';

describe('native/errno', () => {
  it('names errnos libuv does not map (ECHILD)', () => {
    assert.equal(errnoName(10), 'ECHILD');
    assert.equal(errnoName(-3), 'ESRCH');
  });

  it('builds Node-style system errors with code, errno, syscall and path', () => {
    const err = systemError(2, 'mkfifo', '/x/y');
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.errno, -2);
    assert.equal(err.syscall, 'mkfifo');
    assert.equal(err.path, '/x/y');
    assert.equal(err.message, "ENOENT: no such file or directory, mkfifo '/x/y'");
    assert.ok(isErrno(err, 'ENOENT'));
    assert.ok(!isErrno(new Error('x'), 'ENOENT'));
  });

  it('describes errnos missing from libuv', () => {
    assert.equal(systemError(10, 'waitid').message, 'ECHILD: no child processes, waitid');
  });
});
