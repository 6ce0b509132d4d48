/**
 * Drift test: our .proto files against Debian's upstream ones (proto/upstream.txt). For every file
 * pair, the same messages, enums and services (full names), and per message the same field numbers,
 * names, resolved types, labels and map key/value types; per enum the same values; per service the
 * same methods with the same request and response types. Comparison uses keepCase (proto names).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { allNested, fullName, loadProtoFiles, protoDir } from '../../../proto/codegen/load';
import { skipBecause } from '../../helpers/system';

const G = '/usr/share/gocode/src';
const INCLUDES = [G, `${G}/github.com/gogo/protobuf`, `${G}/github.com/gogo/protobuf/protobuf`, `${G}/github.com/gogo/googleapis`];
const PACKAGES = [
  'golang-github-containerd-containerd-dev',
  'golang-github-containerd-cgroups-dev',
  'golang-github-gogo-protobuf-dev',
  'golang-github-gogo-googleapis-dev',
];

/** One row of proto/upstream.txt. */
interface Row {
  ours: string;
  upstream: string;
  pkg: string;
}

function readUpstreamTxt(): Row[] {
  const text = fs.readFileSync(path.join(protoDir(), 'upstream.txt'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [ours, upstream, pkg, extra] = l.split(/\s+/);
      if (ours === undefined || upstream === undefined || pkg === undefined || extra !== undefined) throw new Error(`upstream.txt: bad line ${l}`);
      return { ours, upstream, pkg };
    });
}

function ourProtoFiles(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) return r === 'gen' || r === 'codegen' ? [] : ourProtoFiles(dir, r);
    return e.name.endsWith('.proto') ? [r] : [];
  });
}

function typeName(field: protobuf.Field): string {
  return field.resolvedType !== null ? fullName(field.resolvedType) : field.type;
}

/** A comparable description of a message, enum or service. */
function describeObject(obj: protobuf.Type | protobuf.Enum | protobuf.Service): unknown {
  if (obj instanceof protobuf.Type) {
    return {
      kind: 'message',
      fields: [...obj.fieldsArray]
        .sort((a, b) => a.id - b.id)
        .map((f) => ({
          id: f.id,
          name: f.name,
          type: typeName(f),
          label: f instanceof protobuf.MapField ? `map<${f.keyType}>` : f.repeated ? 'repeated' : (f.rule ?? ''),
          presence: f.hasPresence,
          packed: f.repeated ? f.packed : undefined,
          oneof: f.partOf?.name,
        })),
    };
  }
  if (obj instanceof protobuf.Enum) {
    return { kind: 'enum', values: Object.entries(obj.values).sort(([a], [b]) => a.localeCompare(b)) };
  }
  return {
    kind: 'service',
    methods: obj.methodsArray.map((m) => ({
      name: m.name,
      request: m.resolvedRequestType === null ? m.requestType : fullName(m.resolvedRequestType),
      response: m.resolvedResponseType === null ? m.responseType : fullName(m.resolvedResponseType),
      streams: [m.requestStream === true, m.responseStream === true],
    })),
  };
}

/** Our or upstream's declarations of one file, by full name. */
function declaredIn(root: protobuf.Root, file: string): Map<string, protobuf.Type | protobuf.Enum | protobuf.Service> {
  const real = fs.realpathSync(file);
  return new Map(allNested(root).filter((o) => o.filename === real).map((o) => [fullName(o), o]));
}

describe('proto drift against Debian upstream .proto files', function () {
  const rows = readUpstreamTxt();
  let ours: protobuf.Root;
  let upstream: protobuf.Root;

  before(function () {
    const missing = rows.filter((r) => r.upstream !== '-' && !fs.existsSync(path.join(G, r.upstream))).map((r) => r.upstream);
    if (!fs.existsSync(G) || missing.length > 0) {
      const what = fs.existsSync(G) ? `missing upstream files: ${missing.join(', ')}` : `${G} does not exist`;
      const fix = `install the Debian packages ${PACKAGES.join(' ')} (apt-get install ${PACKAGES.join(' ')})`;
      if (process.platform === 'linux' && process.getuid?.() === 0) {
        throw new Error(`proto drift test cannot run: ${what}; ${fix}`);
      }
      // Elsewhere (macOS, non-root CI) the upstream tree cannot be installed here: report and skip.
      skipBecause(this, `${what}; ${fix}`);
    }
    ours = loadProtoFiles(
      rows.map((r) => r.ours),
      { includeDirs: [protoDir()], keepCase: true },
    );
    upstream = loadProtoFiles(
      rows.filter((r) => r.upstream !== '-').map((r) => path.join(G, r.upstream)),
      { includeDirs: INCLUDES, keepCase: true },
    );
  });

  it('lists every .proto file of proto/ in upstream.txt, once', () => {
    const listed = rows.map((r) => r.ours).sort();
    assert.deepEqual(listed, [...new Set(listed)]);
    assert.deepEqual(ourProtoFiles(protoDir()).sort(), listed);
  });

  it('loads runtimeoptions/v1/api.proto beside the others despite its other gogo import path', () => {
    const options = upstream.lookupType('runtimeoptions.v1.Options');
    assert.equal(options.filename, fs.realpathSync(path.join(G, 'github.com/containerd/containerd/pkg/runtimeoptions/v1/api.proto')));
    // gogo.proto reached as gogoproto/gogo.proto and as github.com/gogo/protobuf/gogoproto/gogo.proto is one file.
    assert.equal(upstream.files.filter((f) => f.endsWith('/gogoproto/gogo.proto')).length, 1);
  });

  for (const row of rows) {
    describe(row.ours, () => {
      it(`declares only package ${row.pkg}`, () => {
        const names = [...declaredIn(ours, path.join(protoDir(), row.ours)).keys()];
        assert.ok(names.length > 0, 'declares nothing');
        for (const name of names) assert.ok(name.startsWith(`${row.pkg}.`), `${name} is outside ${row.pkg}`);
      });

      if (row.upstream === '-') return;

      it(`matches ${row.upstream}`, () => {
        const mine = declaredIn(ours, path.join(protoDir(), row.ours));
        const theirs = declaredIn(upstream, path.join(G, row.upstream));
        assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort(), 'the same messages, enums and services');
        // One comparison of everything, so a failure shows every difference at once.
        const describeAll = (m: typeof mine): Record<string, unknown> =>
          Object.fromEntries([...m.keys()].sort().map((name) => [name, describeObject(m.get(name) as Parameters<typeof describeObject>[0])]));
        assert.deepEqual(describeAll(mine), describeAll(theirs));
      });
    });
  }
});
