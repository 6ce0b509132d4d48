/**
 * supervisor/config.ts: the daemon's namespace is a path element of its bundles and logs and what
 * its shims' events must name, so it is an identifier as containerd's are.
 */
import assert from 'node:assert/strict';
import { ErrdefsError } from '../../../proto/errdefs';
import { DEFAULT_NAMESPACE, daemonConfig } from '../../../supervisor/config';

describe('supervisor: daemon configuration', () => {
  it('takes a namespace that is an identifier, the default without one', () => {
    assert.equal(daemonConfig({ root: '/tmp/tsv-cfg' }).namespace, DEFAULT_NAMESPACE);
    assert.equal(daemonConfig({ root: '/tmp/tsv-cfg', namespace: 'team-a.prod_1' }).namespace, 'team-a.prod_1');
  });

  it('refuses a namespace that is not an identifier (a path, empty, too long)', () => {
    for (const bad of ['a/b', '..', '', '-x', 'x'.repeat(77)]) {
      assert.throws(
        () => daemonConfig({ root: '/tmp/tsv-cfg', namespace: bad }),
        (err: Error) => err instanceof ErrdefsError && err.kind === 'invalidArgument',
        JSON.stringify(bad),
      );
    }
  });
});
