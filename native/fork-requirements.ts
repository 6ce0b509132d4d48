/**
 * What a Node process needs before native forkDetached may copy it (fork.ts says why): no V8
 * worker threads (`--single-threaded`) and one platform worker (`--v8-pool-size=1`). Without koffi,
 * so a caller can ask before it loads the native layer.
 */

/** Why this process cannot be forked, or undefined when it can. */
export function forkRefusal(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (!execArgv.includes('--single-threaded')) return 'fork: this Node process has V8 worker threads (run it with --single-threaded)';
  if (!execArgv.includes('--v8-pool-size=1')) return 'fork: this Node process has more than one platform worker (run it with --v8-pool-size=1)';
  return undefined;
}
