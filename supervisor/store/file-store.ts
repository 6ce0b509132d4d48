/**
 * Records on disk: `<dir>/<id>.json`, one per container, each replaced atomically (temp file, fsync,
 * rename, directory fsync: util/atomic-file.ts). A power cut at any point leaves every record as it
 * was before or after its last write, never half-written; temporary files left behind by a crash are
 * removed at load. A file that cannot be parsed (disk damage, not a crash of ours) is renamed aside
 * to `<name>.damaged` and reported, so one bad record never stops the daemon.
 */
import { join } from 'node:path';
import { ErrdefsError } from '../../proto/errdefs';
import { type FsOps, TEMP_PREFIX, realFsOps, removeFileDurably, writeFileAtomic } from '../util/atomic-file';
import type { RecordBackend } from './store';
import type { ContainerRecord } from './types';

const SUFFIX = '.json';

/** One JSON file per record under `dir`. */
export class FileBackend implements RecordBackend {
  constructor(
    private readonly dir: string,
    private readonly ops: FsOps = realFsOps,
  ) {}

  loadAll(onDamaged: (file: string, err: unknown) => void): ContainerRecord[] {
    this.ops.mkdirp(this.dir, 0o700);
    const records: ContainerRecord[] = [];
    for (const name of this.ops.readdir(this.dir).sort()) {
      const file = join(this.dir, name);
      if (name.startsWith(TEMP_PREFIX)) {
        // an atomic write that never reached its rename: the record it was for is intact
        removeFileDurably(file, this.ops);
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      try {
        records.push(parseRecord(this.ops.readFile(file), name.slice(0, -SUFFIX.length)));
      } catch (err) {
        onDamaged(file, err);
        try {
          this.ops.rename(file, `${file}.damaged`);
        } catch {
          // leave it; it is skipped again next time
        }
      }
    }
    return records;
  }

  write(record: ContainerRecord): void {
    writeFileAtomic(this.pathOf(record.id), `${JSON.stringify(record, null, 2)}\n`, 0o600, this.ops);
  }

  remove(id: string): void {
    removeFileDurably(this.pathOf(id), this.ops);
  }

  private pathOf(id: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new ErrdefsError('invalidArgument', `bad container id ${JSON.stringify(id)}`);
    return join(this.dir, `${id}${SUFFIX}`);
  }
}

/** Parses and checks one record file; throws on anything that is not a whole record. */
export function parseRecord(bytes: Buffer, expectedId: string): ContainerRecord {
  const value = JSON.parse(bytes.toString('utf8')) as Partial<ContainerRecord> | null;
  if (value === null || typeof value !== 'object') throw new Error('not a JSON object');
  if (value.schema !== 1) throw new Error(`unknown record schema ${String(value.schema)}`);
  if (value.id !== expectedId) throw new Error(`record id ${String(value.id)} does not match its file name`);
  for (const key of ['name', 'namespace', 'bundle', 'status', 'createdAt', 'logDir'] as const) {
    if (typeof value[key] !== 'string') throw new Error(`record field ${key} is missing`);
  }
  return value as ContainerRecord;
}
