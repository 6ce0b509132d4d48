/**
 * A V8 code cache trained by a real run (bin/lib/containerd-shim-tsrunc-v2): the launcher
 * registers `tsrunc.saveCodeCache`, which writes the cache of the daemon bundle as compiled so far —
 * eager and lazily compiled functions alike — once per build. A daemon calls it when it has served
 * and shut down, off every request's path. Absent (tsc output, tests): nothing happens.
 */
export function saveTrainedCodeCache(): void {
  const save = (globalThis as Record<symbol, unknown>)[Symbol.for('tsrunc.saveCodeCache')];
  if (typeof save !== 'function') return;
  try {
    (save as () => void)();
  } catch {
    // a cache is an optimisation: never a reason to fail
  }
}
