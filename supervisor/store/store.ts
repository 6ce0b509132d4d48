/**
 * The store of container records: an in-memory map that is the truth while the daemon runs, and a
 * durable backend written through on every change (file-store.ts: one file per record, atomic).
 *
 * Writes are synchronous on purpose: a change is durable before the next line of the caller runs,
 * so the order of records on disk is the order of the changes, with no write queue to reason about
 * (container state changes are rare; the cost is one fsync'd write per change).
 */
import { ErrdefsError } from '../../proto/errdefs';
import type { ContainerRecord } from './types';

/** Where records persist. */
export interface RecordBackend {
  /** Every readable record (damaged ones are reported through `onDamaged` and skipped). */
  loadAll(onDamaged: (file: string, err: unknown) => void): ContainerRecord[];
  /** Durably replaces the record's file with this content. */
  write(record: ContainerRecord): void;
  /** Durably removes the record. */
  remove(id: string): void;
}

/** The store the task manager uses. */
export class Store {
  private readonly records = new Map<string, ContainerRecord>();

  constructor(private readonly backend: RecordBackend) {}

  /** Loads every record from the backend (at daemon start). */
  load(onDamaged: (file: string, err: unknown) => void = () => undefined): ContainerRecord[] {
    this.records.clear();
    for (const record of this.backend.loadAll(onDamaged)) this.records.set(record.id, record);
    return this.list();
  }

  /** The record with this id, or undefined. */
  find(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  /** The record with this id; NotFound otherwise. */
  get(id: string): ContainerRecord {
    const record = this.records.get(id);
    if (record === undefined) throw new ErrdefsError('notFound', `no such container: ${id}`);
    return record;
  }

  /** Every record, oldest first. */
  list(): ContainerRecord[] {
    return [...this.records.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  /** Adds a new record; AlreadyExists when the id or the name is taken. Durable on return. */
  insert(record: ContainerRecord): void {
    if (this.records.has(record.id)) throw new ErrdefsError('alreadyExists', `container id ${record.id} is already in use`);
    if (this.findByName(record.name) !== undefined) throw new ErrdefsError('alreadyExists', `container name ${JSON.stringify(record.name)} is already in use`);
    this.backend.write(record);
    this.records.set(record.id, record);
  }

  /**
   * Applies `change` to the record and saves it (revision + 1). `change` runs synchronously on the
   * live object; if saving fails the in-memory record keeps the change and the error is thrown.
   */
  update(id: string, change: (record: ContainerRecord) => void): ContainerRecord {
    const record = this.get(id);
    change(record);
    record.revision++;
    this.backend.write(record);
    return record;
  }

  /** Removes the record (durably). */
  remove(id: string): void {
    if (!this.records.has(id)) return;
    this.backend.remove(id);
    this.records.delete(id);
  }

  /** The record named `name`, if any. */
  findByName(name: string): ContainerRecord | undefined {
    for (const record of this.records.values()) if (record.name === name) return record;
    return undefined;
  }

  /**
   * Resolves what a user typed: an exact id, an exact name, or a unique id prefix.
   * NotFound when nothing matches, InvalidArgument when a prefix is ambiguous.
   */
  resolve(ref: string): ContainerRecord {
    if (ref === '') throw new ErrdefsError('invalidArgument', 'a container id or name is required');
    const exact = this.records.get(ref) ?? this.findByName(ref);
    if (exact !== undefined) return exact;
    const matches = [...this.records.values()].filter((r) => r.id.startsWith(ref));
    if (matches.length === 1 && matches[0] !== undefined) return matches[0];
    if (matches.length > 1) throw new ErrdefsError('invalidArgument', `container reference ${JSON.stringify(ref)} is ambiguous (${matches.length} matches)`);
    throw new ErrdefsError('notFound', `no such container: ${ref}`);
  }
}

/** A backend that keeps nothing (unit tests). */
export class MemoryBackend implements RecordBackend {
  readonly saved = new Map<string, string>();
  loadAll(): ContainerRecord[] {
    return [...this.saved.values()].map((s) => JSON.parse(s) as ContainerRecord);
  }
  write(record: ContainerRecord): void {
    this.saved.set(record.id, JSON.stringify(record));
  }
  remove(id: string): void {
    this.saved.delete(id);
  }
}
