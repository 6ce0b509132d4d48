/**
 * Call metadata: a multimap of lower-case keys to lists of values, carried on the wire as a flat list of
 * KeyValue pairs in which a repeated key forms a list (Go's `ttrpc.MD`). Never required by containerd;
 * used for `containerd-namespace-ttrpc`.
 */
import type { KeyValue } from './codec';

/** What a Metadata can be built from: another Metadata, [key, value] pairs, or an object of value(s). */
export type MetadataInit =
  | Metadata
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[]>>;

/** Metadata of one call. Keys are compared lower-cased, as Go does. */
export class Metadata implements Iterable<[string, string]> {
  private readonly map = new Map<string, string[]>();

  constructor(init?: MetadataInit) {
    if (init === undefined) return;
    if (init instanceof Metadata) {
      for (const [k, values] of init.map) this.map.set(k, [...values]);
    } else if (isIterable(init)) {
      for (const [k, v] of init) this.append(k, v);
    } else {
      for (const [k, v] of Object.entries(init)) {
        if (typeof v === 'string') this.append(k, v);
        else for (const one of v) this.append(k, one);
      }
    }
  }

  /** Metadata from the wire list (keys lower-cased; repeated keys gathered in order). */
  static fromKeyValues(list: readonly KeyValue[]): Metadata {
    const md = new Metadata();
    for (const kv of list) md.append(kv.key, kv.value);
    return md;
  }

  /** The first value of `key`, if any. */
  get(key: string): string | undefined {
    return this.map.get(key.toLowerCase())?.[0];
  }

  /** Every value of `key`, in order (a copy; empty when absent). */
  getAll(key: string): string[] {
    return [...(this.map.get(key.toLowerCase()) ?? [])];
  }

  /** Whether `key` has at least one value. */
  has(key: string): boolean {
    return this.map.has(key.toLowerCase());
  }

  /** Replaces the values of `key`; no values deletes it. */
  set(key: string, ...values: string[]): this {
    const k = key.toLowerCase();
    if (values.length === 0) this.map.delete(k);
    else this.map.set(k, [...values]);
    return this;
  }

  /** Adds one value to `key`. */
  append(key: string, value: string): this {
    const k = key.toLowerCase();
    const list = this.map.get(k);
    if (list === undefined) this.map.set(k, [value]);
    else list.push(value);
    return this;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    return this.map.delete(key.toLowerCase());
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.map.size;
  }

  /** A deep copy. */
  clone(): Metadata {
    return new Metadata(this);
  }

  /** Every (key, value) pair, a repeated key once per value. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const [k, values] of this.map) for (const v of values) yield [k, v];
  }

  /** The wire form: one KeyValue per value. */
  toKeyValues(): KeyValue[] {
    const list: KeyValue[] = [];
    for (const [key, value] of this) list.push({ key, value });
    return list;
  }

  /** A plain object of value lists, for logs. */
  toJSON(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, values] of this.map) out[k] = [...values];
    return out;
  }
}

function isIterable(value: object): value is Iterable<readonly [string, string]> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
}
