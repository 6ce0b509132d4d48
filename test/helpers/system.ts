/**
 * Prerequisites of real-system tests. On Linux as root a missing prerequisite is a FAILURE with a
 * message that says what to install — never a silent skip. Elsewhere (a developer's laptop), the
 * suite is skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** True on the machines the project targets: Linux, as root. */
export function isLinuxRoot(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/**
 * Call from `before()` of a real-system suite: skips it off Linux-as-root, and fails it with a clear
 * message when one of the named commands is missing.
 */
export function requireSystem(ctx: Mocha.Context, commands: readonly string[] = []): void {
  if (!isLinuxRoot()) skipBecause(ctx, 'needs Linux and root (the project’s target machines)');
  const missing = commands.filter((c) => !which(c));
  if (missing.length > 0) {
    throw new Error(`missing prerequisites: ${missing.join(', ')} — run \`npm test\` (it apt-gets them) or apt-get install them`);
  }
}

/**
 * Skips the current test or suite, saying why on stderr (mocha's report shows only "pending"). For
 * machines that truly cannot run it — never for a missing package, which is a failure.
 */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  // in a hook (mocha sets currentTest there), the suite it skips; in a test, the test
  const title = (ctx.currentTest ? ctx.test?.parent?.fullTitle() : ctx.test?.fullTitle()) ?? '';
  process.stderr.write(`skipped: ${title}: ${reason}\n`);
  ctx.skip();
}

/** The absolute path of a command on PATH, or undefined. */
export function which(command: string): string | undefined {
  if (command.startsWith('/')) return existsSync(command) ? command : undefined;
  try {
    return execFileSync('sh', ['-c', `command -v "${command}"`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
