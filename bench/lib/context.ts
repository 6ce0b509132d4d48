/**
 * What every section of shim-vs-go uses: the private containerd (test/helpers/containerd.ts — a clean
 * environment, no NODE_EXTRA_CA_CERTS, bin/ first on PATH), the shared busybox rootfs, the cleanup
 * stack, progress logging to stderr, and timed `ctr` runs.
 */
import { performance } from 'node:perf_hooks';
import { Containerd, type RunResult } from '../../test/helpers/containerd';
import { GO_RUNTIME, OUR_RUNTIME } from '../../test/helpers/runtimes';
import { type Cleanup } from './cleanup';

/** The two runtimes, in the order each iteration runs them (ours first, then Go's: ABAB…). */
export const PAIR = [OUR_RUNTIME, GO_RUNTIME] as const;
export type Runtime = (typeof PAIR)[number];
export { GO_RUNTIME, OUR_RUNTIME };

/** A short tag per runtime for container ids. */
export function tag(runtime: Runtime): string {
  return runtime === OUR_RUNTIME ? 't' : 'g';
}

/** Samples per runtime. */
export type PerRuntime<T> = Record<Runtime, T>;

/** A pair of empty samples. */
export function samples(): PerRuntime<number[]> {
  return { [OUR_RUNTIME]: [], [GO_RUNTIME]: [] };
}

/** The shared state of one benchmark run. */
export interface Context {
  ct: Containerd;
  rootfs: string;
  cleanup: Cleanup;
  /** A progress line on stderr. */
  log(message: string): void;
  /** A container id unique in this run. */
  id(prefix: string): string;
}

/** Starts the private containerd and registers its stop. */
export async function startContainerd(cleanup: Cleanup): Promise<Containerd> {
  const ct = await Containerd.start();
  cleanup.add('stop containerd', () => ct.stop());
  return ct;
}

/** `ctr …` timed with performance.now (ms); fails when ctr does. */
export async function timedCtr(ct: Containerd, args: readonly string[], timeoutMs = 120_000): Promise<{ ms: number; result: RunResult }> {
  const t0 = performance.now();
  const result = await ct.ctr(args, { timeoutMs });
  const ms = performance.now() - t0;
  if (result.code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return { ms, result };
}

/** Runs `fn` over `items` with at most `parallel` in flight. */
export async function pool<T>(items: readonly T[], parallel: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
}

/** Force-deletes the tasks and containers `ids` (best effort, in batches). */
export async function removeContainers(ct: Containerd, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 10) {
    const batch = ids.slice(i, i + 10);
    await ct.ctr(['task', 'delete', '--force', ...batch], { timeoutMs: 60_000 });
    await ct.ctr(['container', 'delete', ...batch], { timeoutMs: 60_000 });
  }
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
