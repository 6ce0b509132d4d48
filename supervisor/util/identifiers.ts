/**
 * Identifiers as containerd validates them (namespaces, container ids, event topic components) and
 * the supervisor's own generated ids and names.
 */
import { randomBytes } from 'node:crypto';
import { ErrdefsError } from '../../proto/errdefs';

/** containerd's identifier rule: alphanumerics, separated by single `.`, `_` or `-`. */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
/** containerd's maximum identifier length. */
export const MAX_IDENTIFIER_LENGTH = 76;

/** Validates an identifier (containerd's `identifiers.Validate`, same messages); InvalidArgument otherwise. */
export function validateIdentifier(s: string): void {
  if (s === '') throw new ErrdefsError('invalidArgument', 'identifier must not be empty');
  if (s.length > MAX_IDENTIFIER_LENGTH) {
    throw new ErrdefsError('invalidArgument', `identifier ${JSON.stringify(s)} greater than maximum length (${MAX_IDENTIFIER_LENGTH} characters)`);
  }
  if (!IDENTIFIER.test(s)) throw new ErrdefsError('invalidArgument', `identifier ${JSON.stringify(s)} must match ${IDENTIFIER.source}`);
}

/** True when `s` is a valid identifier. */
export function isIdentifier(s: string): boolean {
  return s !== '' && s.length <= MAX_IDENTIFIER_LENGTH && IDENTIFIER.test(s);
}

/** A new container id: 12 lowercase hex digits (docker's short-id length). */
export function newContainerId(): string {
  return randomBytes(6).toString('hex');
}

/** A new exec id. */
export function newExecId(): string {
  return `exec-${randomBytes(4).toString('hex')}`;
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nimble', 'proud', 'quiet', 'sharp', 'tidy', 'vivid'];
const NOUNS = ['ant', 'bee', 'crow', 'deer', 'eel', 'fox', 'gnu', 'hare', 'ibis', 'jay', 'kiwi', 'lynx', 'mole', 'newt', 'owl', 'puma'];

/** A readable name for a container created without `--name` (`brave_fox_3f`), unique against `taken`. */
export function newContainerName(taken: (name: string) => boolean): string {
  for (;;) {
    const [a, n, suffix] = [randomBytes(1)[0] ?? 0, randomBytes(1)[0] ?? 0, randomBytes(1).toString('hex')];
    const name = `${ADJECTIVES[a % ADJECTIVES.length] ?? 'calm'}_${NOUNS[n % NOUNS.length] ?? 'fox'}_${suffix}`;
    if (!taken(name)) return name;
  }
}
