/**
 * Identifiers and bundle paths as containerd accepts them (PROTOCOL §2.2: ids and namespaces match
 * ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$ and have at most 76 characters), checked before anything
 * becomes part of a path.
 */
import assert from 'node:assert/strict';
import { bundlePathProblem, identifierProblem, isIdentifier } from '../../../shim/util/validate';

describe('shim/util/validate: identifiers', () => {
  const valid = ['a', 'A', '0', 'default', 'k8s.io', 'rx1', 'my-container_1.2', 'a.b-c_d', 'x'.repeat(76), `${'a.'.repeat(37)}bc`];
  for (const id of valid) {
    it(`accepts ${id.length > 20 ? `${id.slice(0, 12)}… (${id.length} chars)` : id}`, () => {
      assert.equal(identifierProblem(id), undefined);
      assert.equal(isIdentifier(id), true);
    });
  }

  it('refuses the empty string', () => assert.equal(identifierProblem(''), 'must not be empty'));
  it('refuses 77 characters, saying how many', () => assert.equal(identifierProblem('x'.repeat(77)), 'must be at most 76 characters (got 77)'));

  const invalid: [string, string][] = [
    ['-a', 'a leading separator'],
    ['.a', 'a leading dot'],
    ['a-', 'a trailing separator'],
    ['a.', 'a trailing dot'],
    ['a..b', 'a doubled separator'],
    ['a._b', 'mixed doubled separators'],
    ['a/b', 'a slash'],
    ['..', 'dot-dot'],
    ['a b', 'a space'],
    ['a:b', 'a colon'],
    ['a\0b', 'a NUL'],
    ['é', 'a non-ASCII letter'],
    ['a\n', 'a trailing newline'],
  ];
  for (const [id, what] of invalid) {
    it(`refuses ${what} (${JSON.stringify(id)})`, () => {
      assert.equal(identifierProblem(id), 'must match ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$');
      assert.equal(isIdentifier(id), false);
    });
  }
});

describe('shim/util/validate: bundle paths', () => {
  const valid = ['/run/containerd/io.containerd.runtime.v2.task/default/web', '/', '/a', '/run/x/'];
  for (const path of valid) it(`accepts ${path}`, () => assert.equal(bundlePathProblem(path), undefined));

  const invalid: [string, string][] = [
    ['', 'must not be empty'],
    ['run/x', 'must be absolute'],
    ['./run', 'must be absolute'],
    ['/run/../etc', 'must be normalized (no "..", "." or "//")'],
    ['/run/./x', 'must be normalized (no "..", "." or "//")'],
    ['/run//x', 'must be normalized (no "..", "." or "//")'],
    ['//run/x', 'must be normalized (no "..", "." or "//")'],
    ['/run/x/..', 'must be normalized (no "..", "." or "//")'],
    ['/run/x\0y', 'must not contain NUL'],
  ];
  for (const [path, problem] of invalid) it(`refuses ${JSON.stringify(path)}: ${problem}`, () => assert.equal(bundlePathProblem(path), problem));
});
