/**
 * Runtime options (PROTOCOL §9.4): every Any a client may send for this runtime name, decoded to
 * one normalized shape, plus their persistence in the bundle for the `delete` action.
 *
 *   containerd.runc.v1.Options         — ctr for io.containerd.runc.*, Go clients
 *   containerd.linux.runc.CreateOptions — the containerd client for any other runtime name
 *   runtimeoptions.v1.Options          — {type_url, config_path}: CRI with ConfigPath and
 *                                        `ctr run --runtime-config-path`; the file is TOML with the
 *                                        runc options by their Go names (BinaryName, Root, …)
 *
 * Decoded with the small protobuf reader (util/proto-lite.ts) because `start` needs ShimCgroup and
 * must not load protobufjs; a unit test pins this to the generated codecs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { ProtoReader } from '../util/proto-lite';
import { TomlError, type TomlTable, parseToml } from '../util/toml';

/** The runc options the shim uses, normalized. */
export interface RuncOptions {
  binaryName: string;
  root: string;
  systemdCgroup: boolean;
  noPivotRoot: boolean;
  noNewKeyring: boolean;
  ioUid: number;
  ioGid: number;
  criuPath: string;
  shimCgroup: string;
  criuImagePath: string;
  criuWorkPath: string;
}

/** Options that cannot be used: InvalidArgument at the RPC edge. */
export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

export const RUNC_OPTIONS_URL = 'containerd.runc.v1.Options';
export const CREATE_OPTIONS_URL = 'containerd.linux.runc.CreateOptions';
export const RUNTIME_OPTIONS_URL = 'runtimeoptions.v1.Options';
export const DEFAULT_RUNC_ROOT = '/run/containerd/runc';

/** The defaults: `runc` on PATH, root /run/containerd/runc. */
export function defaultOptions(): RuncOptions {
  return { binaryName: '', root: '', systemdCgroup: false, noPivotRoot: false, noNewKeyring: false, ioUid: 0, ioGid: 0, criuPath: '', shimCgroup: '', criuImagePath: '', criuWorkPath: '' };
}

/** The runc binary to run. */
export function runcBinary(o: RuncOptions): string {
  return o.binaryName || 'runc';
}

/** The runc root for a namespace (`<Root or /run/containerd/runc>/<namespace>`). */
export function runcRoot(o: RuncOptions, namespace: string): string {
  return join(o.root || DEFAULT_RUNC_ROOT, namespace);
}

/** Strips the `type.googleapis.com/` style prefix some clients add. */
function bareTypeUrl(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 && !typeUrl.startsWith('types.containerd.io/') ? typeUrl.slice(slash + 1) : typeUrl;
}

/** Decodes a google.protobuf.Any's bytes into {typeUrl, value}. */
export function decodeAny(bytes: Uint8Array): { typeUrl: string; value: Uint8Array } {
  const r = new ProtoReader(bytes);
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array(0);
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 1 && wireType === 2) typeUrl = r.string();
    else if (field === 2 && wireType === 2) value = r.bytes();
    else r.skip(wireType);
  }
  return { typeUrl, value };
}

/** Decodes runtime options carried in an Any; an empty type URL means "no options". */
export function decodeOptions(any: { typeUrl: string; value: Uint8Array } | null | undefined): RuncOptions {
  const options = defaultOptions();
  if (!any || any.typeUrl === '') return options;
  const url = bareTypeUrl(any.typeUrl);
  try {
    switch (url) {
      case RUNC_OPTIONS_URL:
        return readFields(any.value, options, RUNC_V1_FIELDS);
      case CREATE_OPTIONS_URL:
        return readFields(any.value, options, CREATE_OPTIONS_FIELDS);
      case RUNTIME_OPTIONS_URL:
        return fromRuntimeOptions(any.value);
      default:
        throw new OptionsError(`unsupported runtime options type ${any.typeUrl}: expected ${RUNC_OPTIONS_URL}, ${CREATE_OPTIONS_URL} or ${RUNTIME_OPTIONS_URL}`);
    }
  } catch (err) {
    if (err instanceof OptionsError) throw err;
    throw new OptionsError(`cannot decode runtime options ${any.typeUrl}: ${(err as Error).message}`);
  }
}

type FieldKind = 'bool' | 'string' | 'uint32';
type FieldTable = Record<number, [keyof RuncOptions, FieldKind]>;

const RUNC_V1_FIELDS: FieldTable = {
  1: ['noPivotRoot', 'bool'],
  2: ['noNewKeyring', 'bool'],
  3: ['shimCgroup', 'string'],
  4: ['ioUid', 'uint32'],
  5: ['ioGid', 'uint32'],
  6: ['binaryName', 'string'],
  7: ['root', 'string'],
  8: ['criuPath', 'string'],
  9: ['systemdCgroup', 'bool'],
  10: ['criuImagePath', 'string'],
  11: ['criuWorkPath', 'string'],
};

/** containerd.linux.runc.CreateOptions: the checkpoint-ish fields (2–7) are not runtime options. */
const CREATE_OPTIONS_FIELDS: FieldTable = {
  1: ['noPivotRoot', 'bool'],
  8: ['noNewKeyring', 'bool'],
  9: ['shimCgroup', 'string'],
  10: ['ioUid', 'uint32'],
  11: ['ioGid', 'uint32'],
  12: ['criuWorkPath', 'string'],
  13: ['criuImagePath', 'string'],
};

function readFields(bytes: Uint8Array, options: RuncOptions, table: FieldTable): RuncOptions {
  const r = new ProtoReader(bytes);
  const out = options as unknown as Record<string, string | number | boolean>;
  while (!r.done) {
    const { field, wireType } = r.key();
    const spec = table[field];
    if (!spec) {
      r.skip(wireType);
      continue;
    }
    const [name, kind] = spec;
    const expected = kind === 'string' ? 2 : 0;
    if (wireType !== expected) throw new Error(`field ${field} has wire type ${wireType}`);
    out[name] = kind === 'string' ? r.string() : kind === 'bool' ? r.bool() : r.uint32();
  }
  return options;
}

function fromRuntimeOptions(bytes: Uint8Array): RuncOptions {
  const r = new ProtoReader(bytes);
  let configPath = '';
  while (!r.done) {
    const { field, wireType } = r.key();
    if (field === 2 && wireType === 2) configPath = r.string();
    else r.skip(wireType);
  }
  if (!configPath) return defaultOptions();
  return loadOptionsFile(configPath);
}

/** The TOML keys of an options file, by Go field name and by proto field name. */
const TOML_KEYS = new Map<string, [keyof RuncOptions, FieldKind]>();
for (const [key, kind, goName, protoName] of [
  ['binaryName', 'string', 'BinaryName', 'binary_name'],
  ['root', 'string', 'Root', 'root'],
  ['systemdCgroup', 'bool', 'SystemdCgroup', 'systemd_cgroup'],
  ['noPivotRoot', 'bool', 'NoPivotRoot', 'no_pivot_root'],
  ['noNewKeyring', 'bool', 'NoNewKeyring', 'no_new_keyring'],
  ['ioUid', 'uint32', 'IoUid', 'io_uid'],
  ['ioGid', 'uint32', 'IoGid', 'io_gid'],
  ['criuPath', 'string', 'CriuPath', 'criu_path'],
  ['shimCgroup', 'string', 'ShimCgroup', 'shim_cgroup'],
  ['criuImagePath', 'string', 'CriuImagePath', 'criu_image_path'],
  ['criuWorkPath', 'string', 'CriuWorkPath', 'criu_work_path'],
] as const) {
  TOML_KEYS.set(goName, [key, kind]);
  TOML_KEYS.set(protoName, [key, kind]);
}

/** Reads runc options from a TOML file (top level, or an [options] table as CRI writes it). */
export function loadOptionsFile(path: string): RuncOptions {
  let table: TomlTable;
  try {
    table = parseToml(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = err instanceof TomlError ? err.message : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new OptionsError(`runtime options file ${path}: ${why}`);
  }
  const nested = Object.prototype.hasOwnProperty.call(table, 'options') ? table['options'] : undefined;
  if (nested !== undefined && (typeof nested !== 'object' || Array.isArray(nested))) throw new OptionsError(`runtime options file ${path}: options must be a table`);
  const entries = Object.entries(table).filter(([key]) => key !== 'options');
  if (nested) entries.push(...Object.entries(nested));
  const options = defaultOptions();
  const out = options as unknown as Record<string, string | number | boolean>;
  for (const [key, value] of entries) {
    const spec = TOML_KEYS.get(key);
    if (!spec) throw new OptionsError(`runtime options file ${path}: unknown key ${key}`);
    const [name, kind] = spec;
    const ok = kind === 'string' ? typeof value === 'string' : kind === 'bool' ? typeof value === 'boolean' : typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
    if (!ok) throw new OptionsError(`runtime options file ${path}: ${key} must be ${kind === 'uint32' ? 'a non-negative integer' : `a ${kind === 'bool' ? 'boolean' : 'string'}`}`);
    out[name] = value as string | number | boolean;
  }
  return options;
}

/**
 * options.json in Go's format (snake_case keys, zero values omitted) and `runtime`, for `delete`:
 * atomic, not synced to disk (util/atomic-file.ts says why).
 */
export function saveOptions(bundle: string, o: RuncOptions): void {
  const json: Record<string, string | number | boolean> = {};
  const put = (k: string, v: string | number | boolean): void => {
    if (v !== '' && v !== 0 && v !== false) json[k] = v;
  };
  put('no_pivot_root', o.noPivotRoot);
  put('no_new_keyring', o.noNewKeyring);
  put('shim_cgroup', o.shimCgroup);
  put('io_uid', o.ioUid);
  put('io_gid', o.ioGid);
  put('binary_name', o.binaryName);
  put('root', o.root);
  put('criu_path', o.criuPath);
  put('systemd_cgroup', o.systemdCgroup);
  put('criu_image_path', o.criuImagePath);
  put('criu_work_path', o.criuWorkPath);
  writeFileAtomic(join(bundle, 'options.json'), JSON.stringify(json), 0o600, { durable: false });
  writeFileAtomic(join(bundle, 'runtime'), runcBinary(o), 0o600, { durable: false });
}

/** Reads what `saveOptions` wrote (or Go's shim wrote); defaults when missing. */
export function loadSavedOptions(bundle: string): RuncOptions {
  const options = defaultOptions();
  try {
    const json = JSON.parse(readFileSync(join(bundle, 'options.json'), 'utf8')) as Record<string, unknown>;
    const out = options as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(json)) {
      const spec = TOML_KEYS.get(key);
      if (spec) out[spec[0]] = value;
    }
  } catch {
    // no options were saved: defaults
  }
  try {
    const runtime = readFileSync(join(bundle, 'runtime'), 'utf8').trim();
    if (runtime && runtime !== 'runc') options.binaryName = runtime;
  } catch {
    // no runtime file: runc
  }
  return options;
}
