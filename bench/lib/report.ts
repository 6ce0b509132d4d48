/**
 * The results of a benchmark run: one row per figure with both runtimes' samples, printed as a
 * Markdown table (readable in a terminal, pasteable into docs/benchmarks.md) and as one JSON line.
 */
import { type Summary, ratio, round, summarize } from './stats';

/** A goal on the ours/Go ratio of a row (evaluated on the median ratio). */
export interface Goal {
  op: '<=' | '>=';
  value: number;
}

/** One figure measured for both runtimes (or ours only: `go` has n = 0). */
export interface Row {
  section: string;
  metric: string;
  unit: string;
  ours: Summary;
  go: Summary;
  goal?: Goal;
  /** How the figure was obtained, in a few words. */
  note?: string;
}

/** A row from two raw samples. */
export function row(section: string, metric: string, unit: string, ours: readonly number[], go: readonly number[], extra: { goal?: Goal; note?: string } = {}): Row {
  return { section, metric, unit, ours: summarize(ours), go: summarize(go), ...extra };
}

/** Median ratio ours/Go of a row. */
export function medianRatio(r: Row): number {
  return ratio(r.ours.median, r.go.median);
}

/** Whether a row meets its goal (undefined without a goal or a ratio). */
export function goalMet(r: Row): boolean | undefined {
  const q = medianRatio(r);
  if (!r.goal || !Number.isFinite(q)) return undefined;
  return r.goal.op === '<=' ? q <= r.goal.value : q >= r.goal.value;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

function fmtRatio(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : '–';
}

function goalText(r: Row): string {
  if (!r.goal) return '';
  const met = goalMet(r);
  return `${r.goal.op === '<=' ? '≤' : '≥'} ${r.goal.value}${met === undefined ? '' : met ? ' ✓' : ' ✗'}`;
}

/** The rows as a Markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const header = ['section', 'metric', 'unit', 'n', 'ours median', 'ours mean', 'ours p90', 'Go median', 'Go mean', 'Go p90', 'ratio median', 'ratio mean', 'goal'];
  const lines = rows.map((r) => [
    r.section,
    r.metric,
    r.unit,
    r.go.n > 0 && r.go.n !== r.ours.n ? `${r.ours.n}/${r.go.n}` : String(r.ours.n),
    fmt(r.ours.median),
    r.ours.n > 1 ? fmt(r.ours.mean) : '',
    r.ours.n > 2 ? fmt(r.ours.p90) : '',
    fmt(r.go.median),
    r.go.n > 1 ? fmt(r.go.mean) : '',
    r.go.n > 2 ? fmt(r.go.p90) : '',
    fmtRatio(medianRatio(r)),
    r.ours.n > 1 ? fmtRatio(ratio(r.ours.mean, r.go.mean)) : '',
    goalText(r),
  ]);
  const all = [header, header.map(() => '---'), ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => (l[i] ?? '').length)));
  return all.map((l) => `| ${l.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join(' | ')} |`).join('\n');
}

function summaryJson(s: Summary): Record<string, number> {
  return { n: s.n, mean: round(s.mean), median: round(s.median), p90: round(s.p90), min: round(s.min), max: round(s.max) };
}

/** The rows as one JSON-serialisable object (the machine-readable line). */
export function jsonRows(rows: readonly Row[]): object[] {
  return rows.map((r) => ({
    section: r.section,
    metric: r.metric,
    unit: r.unit,
    ours: summaryJson(r.ours),
    go: r.go.n > 0 ? summaryJson(r.go) : null,
    ratio: round(medianRatio(r)),
    ratioMean: round(ratio(r.ours.mean, r.go.mean)),
    ...(r.goal ? { goal: `${r.goal.op} ${r.goal.value}`, met: goalMet(r) ?? null } : {}),
    ...(r.note ? { note: r.note } : {}),
  }));
}
