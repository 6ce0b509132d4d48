/**
 * The TOML subset of shim/util/toml.ts: what a runtime options file holds is read exactly as TOML
 * 1.0 reads it; what the subset leaves out is refused with the line number, never guessed.
 */
import assert from 'node:assert/strict';
import { TomlError, type TomlTable, parseToml } from '../../../shim/util/toml';

/** The parsed tables as plain objects (parseToml returns null-prototype tables). */
function plain(t: TomlTable): unknown {
  return JSON.parse(JSON.stringify(t)) as unknown;
}

function fails(text: string, line: number, message: RegExp): void {
  assert.throws(
    () => parseToml(text),
    (err: unknown) => err instanceof TomlError && err.line === line && message.test(err.message) && err.message.startsWith(`line ${line}: `),
    JSON.stringify(text),
  );
}

describe('shim/util/toml: values', () => {
  const rows: [string, string, unknown][] = [
    ['basic string', 'k = "hello world"', 'hello world'],
    ['empty string', 'k = ""', ''],
    ['escapes', String.raw`k = "tab\tnl\nquote\"back\\cr\rbs\bff\f"`, 'tab\tnl\nquote"back\\cr\rbs\bff\f'],
    ['\\u escape', String.raw`k = "caf\u00e9"`, 'café'],
    ['\\U escape', String.raw`k = "\U0001F600"`, '😀'],
    ['# inside a string is not a comment', 'k = "a # b"', 'a # b'],
    ['literal string keeps backslashes', String.raw`k = 'C:\Users\nobody'`, String.raw`C:\Users\nobody`],
    ['literal string with a double quote', `k = 'say "hi"'`, 'say "hi"'],
    ['integer', 'k = 42', 42],
    ['negative integer', 'k = -17', -17],
    ['plus sign', 'k = +5', 5],
    ['zero', 'k = 0', 0],
    ['underscores', 'k = 1_000_000', 1_000_000],
    ['hex', 'k = 0xDEAD_beef', 0xdeadbeef],
    ['octal', 'k = 0o755', 0o755],
    ['true', 'k = true', true],
    ['false', 'k = false', false],
    ['float', 'k = 3.25', 3.25],
    ['float with exponent', 'k = -2.5e3', -2500],
    ['exponent without fraction', 'k = 1e2', 100],
    ['empty array', 'k = []', []],
    ['array of strings', 'k = ["a", "b"]', ['a', 'b']],
    ['mixed array with trailing comma', `k = [1, 'x', true, ]`, [1, 'x', true]],
    ['nested arrays', 'k = [[1, 2], ["a"]]', [[1, 2], ['a']]],
    ['trailing comment', 'k = 7 # seven', 7],
    ['comment right after the value', 'k = 7#seven', 7],
    ['tabs around =', 'k\t=\t"v"', 'v'],
  ];
  for (const [name, text, value] of rows) {
    it(name, () => assert.deepEqual(plain(parseToml(text)), { k: value }));
  }
});

describe('shim/util/toml: keys and tables', () => {
  it('reads tables, dotted keys, quoted keys, comments and blank lines', () => {
    const text = [
      '# runtime options',
      '',
      'BinaryName = "crun"',
      'plugin.option = 1',
      '"quoted key" = 2',
      "'literal.key' = 3",
      '',
      '[options]',
      '  SystemdCgroup = true   # indented',
      '[a.b]',
      'c = "deep"',
      '[ a . "d e" ]',
      'f.g = 4',
      '[options.more]',
      'x = []',
    ].join('\n');
    const expected: TomlTable = {
      BinaryName: 'crun',
      plugin: { option: 1 },
      'quoted key': 2,
      'literal.key': 3,
      options: { SystemdCgroup: true, more: { x: [] } },
      a: { b: { c: 'deep' }, 'd e': { f: { g: 4 } } },
    };
    assert.deepEqual(plain(parseToml(text)), expected);
  });

  it('accepts CRLF line ends', () => {
    assert.deepEqual(plain(parseToml('a = 1\r\n[t]\r\nb = "x"\r\n')), { a: 1, t: { b: 'x' } });
  });

  it('an empty document is an empty table', () => {
    assert.deepEqual(plain(parseToml('')), {});
    assert.deepEqual(plain(parseToml('# only a comment\n\n   \n')), {});
  });

  it('bare keys may use digits, - and _', () => {
    assert.deepEqual(plain(parseToml('criu_path-2 = "x"\n1234 = 1')), { 'criu_path-2': 'x', '1234': 1 });
  });
});

describe('shim/util/toml: refusals, with the line', () => {
  it('a duplicate key', () => fails('a = 1\nb = 2\na = 3', 3, /duplicate key a/));
  it('a duplicate key inside a table', () => fails('[t]\nx = 1\nx = 2', 3, /duplicate key x/));
  it('a duplicate dotted key', () => fails('t.x = 1\nt.x = 2', 2, /duplicate key x/));
  it('a value used as a table', () => fails('a = 1\n[a]', 2, /a is not a table/));
  it('a dotted key through a value', () => fails('a = 1\na.b = 2', 2, /a is not a table/));
  it('an array of tables', () => fails('x = 1\n[[servers]]\nname = "a"', 2, /arrays of tables are not supported/));
  it('an inline table', () => fails('\nopts = { a = 1 }', 2, /inline tables are not supported/));
  it('a multi-line basic string', () => fails('a = """\nx\n"""', 1, /multi-line strings are not supported/));
  it("a multi-line literal string", () => fails("a = '''\nx\n'''", 1, /./));
  it('an array spanning lines', () => fails('a = [\n1,\n]', 1, /expected a value|expected , or \]/));
  it('an unterminated string', () => fails('a = "abc', 1, /unterminated string/));
  it('an unterminated literal string', () => fails("a = 'abc", 1, /unterminated string/));
  it('a bad escape', () => fails(String.raw`a = "\q"`, 1, /bad escape \\q/));
  it('a short unicode escape', () => fails(String.raw`a = "\u12"`, 1, /bad unicode escape/));
  it('a bare word value', () => fails('a = yes', 1, /unsupported value yes/));
  it('a missing value', () => fails('a =', 1, /expected a value/));
  it('a missing =', () => fails('a 1', 1, /expected '='/));
  it('text after a value', () => fails('a = 1 2', 1, /unexpected '2'/));
  it('text after a table header', () => fails('[t] x', 1, /unexpected 'x'/));
  it('an unclosed table header', () => fails('[t', 1, /expected '\]'/));
  it('a missing key', () => fails('= 1', 1, /expected a key/));
  it('garbage', () => fails('ok = 1\n%%%', 2, /expected a key/));
  it('array items without a comma', () => fails('a = [1 2]', 1, /expected , or \]/));
  it('inf and nan (not supported)', () => fails('a = inf', 1, /unsupported value inf/));

  // ── found by these tests, fixed in shim/util/toml.ts
  it('an out-of-range \\U escape is a TomlError with the line ', () => {
    fails('ok = 1\n' + String.raw`a = "\U00110000"`, 2, /bad unicode escape/);
  });
  it('a lone surrogate \\u escape is refused (TOML: Unicode scalar values only)', () => {
    fails(String.raw`a = "\uD800"`, 1, /bad unicode escape/);
  });
  it('a hex or octal integer without digits is refused', () => {
    fails('a = 0x_', 1, /unsupported value 0x_/);
    fails('a = 0o_', 1, /unsupported value 0o_/);
  });
  it('a decimal integer with a leading zero or doubled underscore is refused', () => {
    fails('a = 012', 1, /unsupported value 012/);
    fails('a = 1__2', 1, /unsupported value 1__2/);
  });
  it('a table defined twice is refused', () => {
    fails('[a]\nb = 1\n[a]\nc = 2', 3, /duplicate table a|defined twice/);
  });
});

describe('shim/util/toml: keys named like Object.prototype members', () => {
  it('plain keys named toString/constructor are ordinary own keys', () => {
    const t = parseToml('toString = "x"\nconstructor = 1');
    assert.ok(Object.prototype.hasOwnProperty.call(t, 'toString'));
    assert.deepEqual(Object.entries(plain(t) as TomlTable), [
      ['toString', 'x'],
      ['constructor', 1],
    ]);
  });

  it('[__proto__] makes an own table and never touches Object.prototype', () => {
    try {
      const t = parseToml('[__proto__]\npolluted = 1');
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype polluted');
      assert.deepEqual(plain(Object.getOwnPropertyDescriptor(t, '__proto__')?.value as TomlTable), { polluted: 1 });
    } finally {
      delete (Object.prototype as Record<string, unknown>)['polluted'];
    }
  });

  it('[toString] and [constructor] are tables like any other', () => {
    const t = parseToml('[toString]\nx = 1\n[constructor]\ny = 2');
    assert.deepEqual(Object.entries(plain(t) as TomlTable), [
      ['toString', { x: 1 }],
      ['constructor', { y: 2 }],
    ]);
  });
});
