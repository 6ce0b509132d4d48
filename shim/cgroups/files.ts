/**
 * Reading cgroup files the way containerd/cgroups parses them: unsigned decimal values (a
 * negative value reads as 0, as Go's parseUint does), `key value` lines, and files that may be
 * missing — not every controller exists everywhere, and a missing file is simply not reported.
 *
 * Reads are asynchronous (short pool jobs: nothing waits on a pool thread); the OOM watcher's reads,
 * which must be synchronous, use the `*Sync` variants.
 */
import { readFile as readFileCallback, readFileSync, readdir as readdirCallback } from 'node:fs';
import { promisify } from 'node:util';
import { type Long, u64 } from '../../proto';

// fs's callback API through promisify rather than node:fs/promises: nothing else in the daemon
// loads fs/promises, and its first require (eight modules) costs ~0.6 ms of every daemon's start.
const readFile = promisify(readFileCallback);
/** The names in a directory (fs.readdir as a promise). */
export const readdir = promisify(readdirCallback);

const U64_LIMIT = 1n << 64n;
/** 2^64−1: what a cgroup v2 file holding "max" is reported as. */
export const MAX_U64 = U64_LIMIT - 1n;

/**
 * Errors meaning "nothing to report here": the file, its controller or its cgroup is gone, or the
 * kernel no longer serves the file (deprecated v1 interfaces answer EINVAL / EOPNOTSUPP).
 */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV' || code === 'EOPNOTSUPP' || code === 'EINVAL';
}

/** A file's text, or undefined when it does not exist. Other errors are thrown. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** As readOptional, synchronously (for the OOM watcher's checks on the exit path). */
export function readOptionalSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** An unsigned decimal (negative → 0, above 2^64−1 → undefined, not a number → undefined). */
export function parseUint(text: string): bigint | undefined {
  const s = text.trim();
  if (!/^-?\d+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v < 0n) return 0n;
  return v < U64_LIMIT ? v : undefined;
}

/** A limit: "max" → `max` (0 for v1 pids.max, 2^64−1 for v2 files), else parseUint. */
export function parseLimit(text: string, max: bigint): bigint | undefined {
  return text.trim() === 'max' ? max : parseUint(text);
}

/** `key value` lines → map; lines that are not two fields with a numeric value are skipped. */
export function parseKeyValues(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 2) continue;
    const [key = '', raw = ''] = fields;
    const value = parseUint(raw);
    if (value !== undefined) out.set(key, value);
  }
  return out;
}

/** A single-value file as a number, or undefined when missing or unparsable. */
export async function readUint(path: string): Promise<bigint | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parseUint(text);
}

/** A `key value` file, or undefined when missing. */
export async function readKeyValues(path: string): Promise<Map<string, bigint> | undefined> {
  const text = await readOptional(path);
  return text === undefined ? undefined : parseKeyValues(text);
}

/** A value for a uint64 field (absent → 0). */
export function long(value: bigint | undefined): Long {
  return u64(value ?? 0n);
}

/** Picks `keys` out of a key/value map as uint64 fields named by `fields` (camelCase proto names). */
export function pick<F extends string>(raw: ReadonlyMap<string, bigint>, fields: Readonly<Record<F, string>>): Record<F, Long> {
  const out = {} as Record<F, Long>;
  for (const field of Object.keys(fields) as F[]) out[field] = long(raw.get(fields[field]));
  return out;
}

/** A hugetlb page size as the kernel names it in cgroup files ("2MB", "1GB", "64KB") → bytes (0 if not one). */
export function pageSizeBytes(size: string): number {
  const m = /^(\d+)([KMGT]?)B$/.exec(size);
  if (!m) return 0;
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' ');
}
