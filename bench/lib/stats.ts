/**
 * Summaries of a sample (mean, median, p90, p99, min, max) and the ours/Go ratio. Percentiles are
 * nearest-rank on the sorted sample.
 */

/** A summarised sample; `n` = 0 when nothing was measured (then every figure is NaN). */
export interface Summary {
  n: number;
  mean: number;
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile `p` (0–100) of an ascending sample. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

/** Summarises `values` (any order). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? NaN : sorted.reduce((s, v) => s + v, 0) / n;
  const mid = Math.floor(n / 2);
  const median = n === 0 ? NaN : n % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { n, mean, median, p90: percentile(sorted, 90), p99: percentile(sorted, 99), min: sorted[0] ?? NaN, max: sorted[n - 1] ?? NaN };
}

/** ours / Go, NaN when either is missing or Go's is 0. */
export function ratio(ours: number, go: number): number {
  return Number.isFinite(ours) && Number.isFinite(go) && go !== 0 ? ours / go : NaN;
}

/** Rounds for the JSON line: 4 significant digits are plenty for timings and memory. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}
