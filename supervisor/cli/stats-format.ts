/**
 * How `tsrunc stats` shows a sample: docker's table (CPU %, MEM USAGE / LIMIT, MEM %, PIDS) or one
 * JSON object per container. A CPU percentage needs two samples: (Δ container CPU time / Δ host CPU
 * time) × online CPUs × 100, as docker computes it.
 */
import { toBigInt } from '../../proto/long';
import type { api } from '../api/convert';
import { dateOf, table } from './format';

/** What is shown for one container. */
export interface StatsRow {
  readonly id: string;
  readonly name: string;
  readonly read: string | null;
  readonly cpuPercent: number;
  readonly cpuUsageNs: number;
  readonly memoryUsage: number;
  readonly memoryLimit: number;
  readonly memoryPercent: number;
  readonly pidsCurrent: number;
  /** null: unlimited. */
  readonly pidsLimit: number | null;
}

/** CPU % between two samples of one container (0 without a usable previous one). */
export function cpuPercent(previous: api.IContainerStats | undefined, current: api.IContainerStats): number {
  if (previous === undefined) return 0;
  const cpu = Number(toBigInt(current.cpuUsageNs) - toBigInt(previous.cpuUsageNs));
  const system = Number(toBigInt(current.systemCpuNs) - toBigInt(previous.systemCpuNs));
  if (cpu <= 0 || system <= 0) return 0;
  return (cpu / system) * (current.onlineCpus ?? 1) * 100;
}

/** The row of `current`, its CPU % from `previous`. */
export function statsRow(previous: api.IContainerStats | undefined, current: api.ContainerStats): StatsRow {
  const usage = Number(toBigInt(current.memoryUsage));
  const limit = Number(toBigInt(current.memoryLimit));
  const pidsLimit = Number(toBigInt(current.pidsLimit));
  return {
    id: current.id,
    name: current.name,
    read: dateOf(current.read)?.toISOString() ?? null,
    cpuPercent: Math.round(cpuPercent(previous, current) * 100) / 100,
    cpuUsageNs: Number(toBigInt(current.cpuUsageNs)),
    memoryUsage: usage,
    memoryLimit: limit,
    memoryPercent: limit > 0 ? Math.round((usage / limit) * 10000) / 100 : 0,
    pidsCurrent: Number(toBigInt(current.pidsCurrent)),
    pidsLimit: pidsLimit === 0 ? null : pidsLimit,
  };
}

/** 1.5MiB, 512KiB, 7.7GiB — docker's binary units. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)}${units[i] ?? ''}`;
}

/** The `stats` table. */
export function statsTable(rows: readonly StatsRow[]): string {
  return table(
    ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'],
    rows.map((r) => [
      r.id,
      r.name,
      `${r.cpuPercent.toFixed(2)}%`,
      `${humanBytes(r.memoryUsage)} / ${humanBytes(r.memoryLimit)}`,
      `${r.memoryPercent.toFixed(2)}%`,
      r.pidsLimit === null ? String(r.pidsCurrent) : `${r.pidsCurrent} / ${r.pidsLimit}`,
    ]),
  );
}
