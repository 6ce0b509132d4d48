/** Small helpers shared by the experiments. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Containerd } from '../../test/helpers/containerd';
import { summarize } from '../lib/stats';

/**
 * Installs an extra runtime `io.containerd.<name>.v2` into a private containerd: containerd looks a
 * shim binary up in its working directory first, which test/helpers/containerd.ts makes `ct.dir`.
 * `body` is the executable's content (a shell or node script).
 */
export function installRuntime(ct: Containerd, name: string, body: string): string {
  const file = join(ct.dir, `containerd-shim-${name}-v2`);
  writeFileSync(file, body);
  chmodSync(file, 0o755);
  return `io.containerd.${name}.v2`;
}

/** A shell wrapper that runs our shim under `node <flags>` with `env` set. */
export function nodeWrapper(script: string, flags: readonly string[], env: Record<string, string> = {}): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}='${v}' `).join('');
  return `#!/bin/sh\n${vars}exec ${process.execPath} ${flags.join(' ')} ${script} "$@"\n`;
}

/** Median of a sample (NaN when empty). */
export function median(values: readonly number[]): number {
  return summarize(values).median;
}

/** A Markdown table from a header and rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, header.map(() => '---'), ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => `| ${header.map((_, i) => (r[i] ?? '').padEnd(widths[i] ?? 0)).join(' | ')} |`).join('\n');
}

/** A number for a table: 1 decimal. */
export function f1(v: number): string {
  return Number.isFinite(v) ? v.toFixed(1) : '–';
}
