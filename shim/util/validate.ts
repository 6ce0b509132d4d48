/**
 * Identifiers and paths as containerd accepts them: namespaces, container and exec ids match
 * `^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$` and have at most 76 characters (containerd's
 * `identifiers` package). Anything that becomes part of a path is checked before it is used.
 */
import { isAbsolute, normalize } from 'node:path';

const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const MAX_IDENTIFIER = 76;

/** Why `value` is not a valid identifier, or undefined when it is. */
export function identifierProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > MAX_IDENTIFIER) return `must be at most ${MAX_IDENTIFIER} characters (got ${value.length})`;
  if (!IDENTIFIER.test(value)) return `must match ${IDENTIFIER.source}`;
  return undefined;
}

/** True when `value` is a valid containerd identifier. */
export function isIdentifier(value: string): boolean {
  return identifierProblem(value) === undefined;
}

/** Why `path` is not an acceptable bundle path (absolute, normalized, no NUL), or undefined. */
export function bundlePathProblem(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.includes('\0')) return 'must not contain NUL';
  if (!isAbsolute(path)) return 'must be absolute';
  if (normalize(path) !== path.replace(/\/+$/, '') && normalize(path) !== path) return 'must be normalized (no "..", "." or "//")';
  return undefined;
}
