/**
 * Helpers for the proto tests: hex, reflection roots of our bundles, sample messages with every field
 * set, and a canonical form for comparing decoded messages (Long, bytes, prototype defaults).
 */
import * as protobuf from 'protobufjs';
import { BUNDLES } from '../../../proto/codegen/bundles';
import { loadProtoFiles, protoDir } from '../../../proto/codegen/load';
import { Long, i64, u64 } from '../../../proto/long';
import type { StaticMessage } from '../../../proto/message';

/** Bytes from a hex string with optional spaces. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

/** Space-separated lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

const roots = new Map<string, protobuf.Root>();

/** The reflection root (camelCase, as generated) of one bundle of proto/codegen/bundles.ts. */
export function bundleRoot(name: string): protobuf.Root {
  let root = roots.get(name);
  if (root === undefined) {
    const bundle = BUNDLES.find((b) => b.name === name);
    if (bundle === undefined) throw new Error(`no bundle ${name}`);
    root = loadProtoFiles(bundle.files, { includeDirs: [protoDir()] });
    roots.set(name, root);
  }
  return root;
}

/** Every message type of a root, by full name (without leading dot), sorted. */
export function messageTypes(root: protobuf.Root): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) out.push(obj);
      if (obj instanceof protobuf.Namespace) walk(obj);
    }
  };
  walk(root);
  return out.sort((a, b) => a.fullName.localeCompare(b.fullName));
}

/** The generated static class for `fullName` inside a generated module's exports. */
export function staticClass(module: object, fullName: string): StaticMessage<object> {
  let node: unknown = module;
  for (const part of fullName.replace(/^\./, '').split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`no generated class ${fullName}`);
  return node as unknown as StaticMessage<object>;
}

function scalar(type: string, field: protobuf.Field, i: number): unknown {
  switch (type) {
    case 'string':
      return `${field.name}-${i}`;
    case 'bool':
      return true;
    case 'bytes':
      return new Uint8Array([1, 2, 3, i]);
    case 'uint64':
    case 'fixed64':
      return u64((1n << 64n) - 1n - BigInt(i)); // all 64 bits in use
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return i64(-62135596800n - BigInt(i)); // negative: a 10-byte varint
    case 'double':
    case 'float':
      return 0.5 + i;
    default:
      return 7 + field.id + i; // 32-bit integers
  }
}

function value(field: protobuf.Field, type: string, resolved: protobuf.ReflectionObject | null, i: number, depth: number): unknown {
  if (resolved instanceof protobuf.Enum) return Math.max(...Object.values(resolved.values));
  if (resolved instanceof protobuf.Type) return depth >= 4 ? {} : sampleMessage(resolved, depth + 1);
  return scalar(type, field, i);
}

/** A plain object for `type` with every field set to a non-default value (repeated: 2, maps: 2 entries). */
export function sampleMessage(type: protobuf.Type, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field instanceof protobuf.MapField) {
      out[field.name] = { a: value(field, field.type, field.resolvedType, 0, depth), b: value(field, field.type, field.resolvedType, 1, depth) };
    } else if (field.repeated) {
      out[field.name] = [0, 1].map((i) => value(field, field.type, field.resolvedType, i, depth));
    } else {
      out[field.name] = value(field, field.type, field.resolvedType, 0, depth);
    }
  }
  return out;
}

/** A canonical, deep-comparable form: Long → "<value>", bytes → "hex:…", own enumerable fields only. */
export function canonical(v: unknown): unknown {
  if (Long.isLong(v)) return `long:${v.toString()}`;
  if (v instanceof Uint8Array) return `hex:${toHex(v)}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object' && v !== null) {
    const entries = Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => [k, canonical((v as Record<string, unknown>)[k])]);
    return Object.fromEntries(entries);
  }
  return v;
}
