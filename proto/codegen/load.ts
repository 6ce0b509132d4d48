/**
 * Loading .proto files into protobufjs reflection roots, for the code generator (service stubs)
 * and for the drift test against Debian's upstream files.
 *
 * Imports are resolved against a list of include directories, like protoc's `-I`; `google/protobuf/*`
 * files that protobufjs bundles (any, empty, timestamp, …) are taken from protobufjs itself. Every
 * resolved path is canonical (absolute, symlinks resolved), so one file reached through two import
 * spellings is loaded once — upstream `pkg/runtimeoptions/v1/api.proto` imports
 * `github.com/gogo/protobuf/gogoproto/gogo.proto` while the others import `gogoproto/gogo.proto`;
 * protoc rejects that combination ("already defined"), this loader does not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/** The folder holding our .proto files (proto/ in the source tree), found from this module's location. */
export function protoDir(): string {
  // Compiled: dist/proto/codegen/load.js; the sources live in <root>/proto.
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto', 'codegen', 'bundles.ts');
    if (fs.existsSync(candidate)) return path.join(dir, 'proto');
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the proto/ source folder above ${__dirname}`);
}

/** Options for {@link loadProtoFiles}. */
export interface LoadOptions {
  /** Include directories, searched in order for imports and for the files themselves. */
  readonly includeDirs: readonly string[];
  /** Keep field names as written (snake_case) instead of protobufjs' camelCase. */
  readonly keepCase?: boolean;
}

/**
 * Loads and resolves `files` (relative to an include directory, or absolute) into a fresh Root.
 * Throws when a file or a non-weak import cannot be found, or a type reference does not resolve.
 */
export function loadProtoFiles(files: readonly string[], options: LoadOptions): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => resolveInclude(target, options.includeDirs);
  const resolved = files.map((f) => {
    const r = resolveInclude(f, options.includeDirs);
    if (r === null) throw new Error(`${f}: not found in ${options.includeDirs.join(', ')}`);
    return r;
  });
  const keepCase = options.keepCase ?? false;
  root.loadSync(resolved, { keepCase });
  root.resolveAll();
  return keepCase ? root : camelCaseBundledFields(root);
}

/** A field-name map in a protobufjs JSON descriptor tree. */
interface JsonNamespace {
  fields?: Record<string, unknown>;
  nested?: Record<string, JsonNamespace>;
}

function renameFields(ns: JsonNamespace): void {
  if (ns.fields !== undefined) {
    // Insertion order is declaration order: keep it.
    ns.fields = Object.fromEntries(Object.entries(ns.fields).map(([name, f]) => [protobuf.util.camelCase(name), f]));
  }
  for (const child of Object.values(ns.nested ?? {})) renameFields(child);
}

/**
 * protobufjs bundles google/protobuf/*.proto as JSON descriptors, which its parser's camelCase option
 * never touches: `google.protobuf.Any` would keep `type_url` while every other field is camelCase.
 * Rebuilds the root from its JSON form with every field name camelCased (ids, types, options, editions
 * and order unchanged), so the generated Any has `typeUrl` like everything else (and like ttrpc-ts'
 * own Any). Field names are not on the wire. The rebuilt root no longer knows its source file names.
 */
function camelCaseBundledFields(root: protobuf.Root): protobuf.Root {
  const json = root.toJSON() as JsonNamespace;
  renameFields(json);
  const fresh = protobuf.Root.fromJSON(json);
  fresh.resolveAll();
  return fresh;
}

function resolveInclude(target: string, includeDirs: readonly string[]): string | null {
  if (path.isAbsolute(target)) return fs.existsSync(target) ? fs.realpathSync(target) : null;
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  // Not found on disk: let protobufjs use its bundled google/protobuf/* copy, or fail naming the file.
  return target;
}

/** Every message type, enum and service under `ns`, depth first in declaration order. */
export function allNested(ns: protobuf.NamespaceBase): (protobuf.Type | protobuf.Enum | protobuf.Service)[] {
  const out: (protobuf.Type | protobuf.Enum | protobuf.Service)[] = [];
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Type || obj instanceof protobuf.Enum || obj instanceof protobuf.Service) out.push(obj);
    // Type and Service are Namespaces too: nested messages and enums live under them.
    if (obj instanceof protobuf.Namespace) out.push(...allNested(obj));
  }
  return out;
}

/** A reflected object's full name without protobufjs' leading dot (`containerd.task.v2.Task`). */
export function fullName(obj: protobuf.ReflectionObject): string {
  return obj.fullName.replace(/^\./, '');
}
