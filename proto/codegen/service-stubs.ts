/**
 * Emits the TypeScript service stubs of one bundle (e.g. proto/gen/services.ts).
 *
 * Per service `pkg.Name` it emits:
 *   - `NameServiceMethods`: the method descriptors' types by lowerCamel key;
 *   - `NameServiceDefinition`: `{ name: 'pkg.Name', methods: { lowerCamel: { name, requestType, responseType } } }`,
 *     structurally a ttrpc-ts `ServiceDefinition`, whose codecs wrap the pbjs static classes;
 *   - `NameService<Ctx>`: one interface, generic in the call context, with one async method per RPC taking
 *     and returning the decoded (pbts class) types — implemented by a server handler (Ctx = call context)
 *     and by a client stub (Ctx = call options) alike.
 * Output depends only on the reflected services (sorted by full name), never on paths or time.
 *
 * For a bundle whose transport is `grpc` (bundles.ts) it emits grpc-js service definitions instead
 * (see {@link emitGrpcStubs}); streaming methods are allowed there.
 */
import * as protobuf from 'protobufjs';
import { BUNDLES } from './bundles';
import { fullName } from './load';

/** Options for {@link emitServiceStubs}. */
export interface StubOptions {
  /** The generated message module to import types and classes from, e.g. `./shim`. */
  readonly messagesModule: string;
  /** The header comment block (already `//`-prefixed lines). */
  readonly header: string;
  /**
   * `ttrpc` or `grpc`; when absent, the transport of the bundle whose messages module this is
   * (`./<name>` in bundles.ts), else `ttrpc`.
   */
  readonly transport?: 'ttrpc' | 'grpc';
}

/** The transport of the stubs asked for: explicit, or from the bundle table. */
function transportOf(options: StubOptions): 'ttrpc' | 'grpc' {
  if (options.transport !== undefined) return options.transport;
  const bundle = BUNDLES.find((b) => `./${b.name}` === options.messagesModule);
  return bundle?.transport ?? 'ttrpc';
}

/** The lowerCamel key of an RPC (`ResizePty` → `resizePty`, `CloseIO` → `closeIO`). */
export function methodKey(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Every service of `root`, sorted by full name. */
export function servicesOf(root: protobuf.Root): protobuf.Service[] {
  const out: protobuf.Service[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Service) out.push(obj);
      if (obj instanceof protobuf.Namespace) walk(obj);
    }
  };
  walk(root);
  return out.sort((a, b) => (fullName(a) < fullName(b) ? -1 : fullName(a) > fullName(b) ? 1 : 0));
}

/** The TypeScript source of the stubs for every service in `root`. */
export function emitServiceStubs(root: protobuf.Root, options: StubOptions): string {
  if (transportOf(options) === 'grpc') return emitGrpcStubs(root, options);
  const services = servicesOf(root);
  const seen = new Map<string, string>();
  const namespaces = new Set<string>();
  const blocks: string[] = [];
  for (const service of services) {
    const prior = seen.get(service.name);
    if (prior !== undefined) {
      throw new Error(`services ${prior} and ${fullName(service)} would both emit ${service.name}Service; rename one in the bundle table`);
    }
    seen.set(service.name, fullName(service));
    blocks.push(emitService(service, namespaces));
  }
  const imports = [...namespaces].sort();
  return [
    options.header,
    '',
    "import { unaryMethod, type MethodDescriptor, type ServiceDescriptor } from '../message';",
    `import { ${imports.join(', ')} } from '${options.messagesModule}';`,
    '',
    blocks.join('\n'),
  ].join('\n');
}

function emitService(service: protobuf.Service, namespaces: Set<string>): string {
  const name = fullName(service);
  // Declaration order, as in the .proto file.
  const rows = service.methodsArray.map((m) => {
    if (m.requestStream === true || m.responseStream === true) {
      throw new Error(`${name}/${m.name}: streaming methods are not supported (ttrpc 1.1 is unary only)`);
    }
    const req = m.resolvedRequestType;
    const res = m.resolvedResponseType;
    if (req === null || res === null) throw new Error(`${name}/${m.name}: unresolved request or response type`);
    const reqName = fullName(req);
    const resName = fullName(res);
    namespaces.add(topNamespace(reqName));
    namespaces.add(topNamespace(resName));
    return { key: methodKey(m.name), wire: m.name, reqName, resName };
  });
  const keys = new Set(rows.map((r) => r.key));
  if (keys.size !== rows.length) throw new Error(`${name}: two methods map to the same lowerCamel key`);

  const lines: string[] = [];
  lines.push(`/** The methods of ${name}, by lowerCamel key. */`);
  lines.push(`export interface ${service.name}ServiceMethods {`);
  for (const r of rows) lines.push(`  readonly ${r.key}: MethodDescriptor<${r.reqName}, ${r.resName}>;`);
  lines.push('}');
  lines.push('');
  lines.push(`/** The wire description of ${name}: per method its wire name and message codecs. */`);
  lines.push(`export const ${service.name}ServiceDefinition: ServiceDescriptor<${service.name}ServiceMethods> = {`);
  lines.push(`  name: '${name}',`);
  lines.push('  methods: {');
  for (const r of rows) {
    // Explicit type arguments: inferred from the classes they would be the looser `$Properties` shapes.
    lines.push(`    ${r.key}: unaryMethod<${r.reqName}, ${r.resName}>(`);
    lines.push(`      '${r.wire}',`);
    lines.push(`      ${r.reqName},`);
    lines.push(`      ${r.resName},`);
    lines.push('    ),');
  }
  lines.push('  },');
  lines.push('};');
  lines.push('');
  lines.push('/**');
  lines.push(` * ${name}: one async method per RPC, taking the decoded request and a context.`);
  lines.push(' * The server-side handler implements it with Ctx = its call context, a client stub with');
  lines.push(' * Ctx = its call options.');
  lines.push(' */');
  lines.push(`export interface ${service.name}Service<Ctx> {`);
  for (const r of rows) {
    lines.push(`  /** ${name}/${r.wire} */`);
    lines.push(`  ${r.key}(request: ${r.reqName}, context: Ctx): Promise<${r.resName}>;`);
  }
  lines.push('}');
  lines.push('');
  return lines.join('\n');
}

function topNamespace(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

// ── grpc-js ─────────────────────────────────────────────────────────────────────────────────────

/** The shapes every grpc-js stubs file declares itself (proto/ does not import @grpc/grpc-js). */
const GRPC_PRELUDE = [
  '/**',
  " * One method as grpc-js describes it (its `MethodDefinition`, structurally: proto/ does not import",
  ' * @grpc/grpc-js). `path` is `/<package>.<Service>/<Method>`; the (de)serializers wrap the pbjs classes.',
  ' */',
  'export interface GrpcMethod<Req, Res, ReqStream extends boolean, ResStream extends boolean> {',
  '  readonly path: string;',
  '  readonly requestStream: ReqStream;',
  '  readonly responseStream: ResStream;',
  '  readonly originalName: string;',
  '  readonly requestSerialize: (value: Req) => Buffer;',
  '  readonly requestDeserialize: (bytes: Buffer) => Req;',
  '  readonly responseSerialize: (value: Res) => Buffer;',
  '  readonly responseDeserialize: (bytes: Buffer) => Res;',
  '}',
  '',
  '/** What a pbjs static class offers for (de)serializing. */',
  'interface GrpcMessageClass<T> {',
  '  encode(message: T): { finish(): Uint8Array };',
  '  decode(bytes: Uint8Array): T;',
  '}',
  '',
  'function toBuffer(bytes: Uint8Array): Buffer {',
  '  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);',
  '}',
  '',
  'function grpcMethod<Req, Res, ReqStream extends boolean, ResStream extends boolean>(',
  '  path: string,',
  '  originalName: string,',
  '  requestStream: ReqStream,',
  '  responseStream: ResStream,',
  '  request: GrpcMessageClass<Req>,',
  '  response: GrpcMessageClass<Res>,',
  '): GrpcMethod<Req, Res, ReqStream, ResStream> {',
  '  return {',
  '    path,',
  '    originalName,',
  '    requestStream,',
  '    responseStream,',
  '    requestSerialize: (value) => toBuffer(request.encode(value).finish()),',
  '    requestDeserialize: (bytes) => request.decode(bytes),',
  '    responseSerialize: (value) => toBuffer(response.encode(value).finish()),',
  '    responseDeserialize: (bytes) => response.decode(bytes),',
  '  };',
  '}',
  '',
].join('\n');

/**
 * The grpc-js stubs of every service in `root`. Per service `pkg.Name`:
 *   - `NameServiceMethods`: per lowerCamel key a `GrpcMethod<Req, Res, requestStream, responseStream>`
 *     (the stream flags as literal types, so handler and client types can follow them);
 *   - `NameServiceDefinition`: the object grpc-js' `Server.addService` and `makeGenericClientConstructor`
 *     take, keyed by lowerCamel method name.
 * Streaming methods are allowed. Output depends only on the reflected services.
 */
export function emitGrpcStubs(root: protobuf.Root, options: StubOptions): string {
  const services = servicesOf(root);
  const seen = new Map<string, string>();
  const namespaces = new Set<string>();
  const blocks: string[] = [];
  for (const service of services) {
    const prior = seen.get(service.name);
    if (prior !== undefined) {
      throw new Error(`services ${prior} and ${fullName(service)} would both emit ${service.name}Service; rename one in the bundle table`);
    }
    seen.set(service.name, fullName(service));
    blocks.push(emitGrpcService(service, namespaces));
  }
  const imports = [...namespaces].sort();
  return [options.header, '', `import { ${imports.join(', ')} } from '${options.messagesModule}';`, '', GRPC_PRELUDE, blocks.join('\n')].join('\n');
}

function emitGrpcService(service: protobuf.Service, namespaces: Set<string>): string {
  const name = fullName(service);
  const rows = service.methodsArray.map((m) => {
    const req = m.resolvedRequestType;
    const res = m.resolvedResponseType;
    if (req === null || res === null) throw new Error(`${name}/${m.name}: unresolved request or response type`);
    const reqName = fullName(req);
    const resName = fullName(res);
    namespaces.add(topNamespace(reqName));
    namespaces.add(topNamespace(resName));
    return { key: methodKey(m.name), wire: m.name, reqName, resName, reqStream: m.requestStream === true, resStream: m.responseStream === true };
  });
  const keys = new Set(rows.map((r) => r.key));
  if (keys.size !== rows.length) throw new Error(`${name}: two methods map to the same lowerCamel key`);

  const lines: string[] = [];
  lines.push(`/** The methods of ${name} for grpc-js, by lowerCamel key (a type, so it is indexable as grpc-js wants). */`);
  lines.push(`export type ${service.name}ServiceMethods = {`);
  for (const r of rows) lines.push(`  readonly ${r.key}: GrpcMethod<${r.reqName}, ${r.resName}, ${r.reqStream}, ${r.resStream}>;`);
  lines.push('};');
  lines.push('');
  lines.push(`/** ${name} as a grpc-js service definition (\`Server.addService\`, \`makeGenericClientConstructor\`). */`);
  lines.push(`export const ${service.name}ServiceDefinition: ${service.name}ServiceMethods = {`);
  for (const r of rows) {
    lines.push(`  ${r.key}: grpcMethod<${r.reqName}, ${r.resName}, ${r.reqStream}, ${r.resStream}>(`);
    lines.push(`    '/${name}/${r.wire}',`);
    lines.push(`    '${r.wire}',`);
    lines.push(`    ${r.reqStream},`);
    lines.push(`    ${r.resStream},`);
    lines.push(`    ${r.reqName},`);
    lines.push(`    ${r.resName},`);
    lines.push('  ),');
  }
  lines.push('};');
  lines.push('');
  return lines.join('\n');
}
