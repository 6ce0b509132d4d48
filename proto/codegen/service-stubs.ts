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
 */
import * as protobuf from 'protobufjs';
import { fullName } from './load';

/** Options for {@link emitServiceStubs}. */
export interface StubOptions {
  /** The generated message module to import types and classes from, e.g. `./shim`. */
  readonly messagesModule: string;
  /** The header comment block (already `//`-prefixed lines). */
  readonly header: string;
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
