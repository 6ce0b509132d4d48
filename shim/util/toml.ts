/**
 * A small TOML reader for the runtime options file (`runtimeoptions.v1.Options.config_path`, the
 * route CRI and `ctr run --runtime-config-path` use). It reads what such a file holds — tables,
 * bare/quoted/dotted keys, strings (basic and literal), integers, booleans, floats, one-line
 * arrays — and refuses the rest with the line number, rather than guessing.
 */

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** A TOML syntax error, with the 1-based line. */
export class TomlError extends Error {
  override readonly name = 'TomlError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** A table without a prototype: keys such as `__proto__` or `toString` are plain keys. */
function table(): TomlTable {
  return Object.create(null) as TomlTable;
}

/** Parses TOML text into nested tables (null-prototype objects). */
export function parseToml(text: string): TomlTable {
  const root = table();
  const defined = new Set<string>();
  let current = root;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const cursor = new Cursor(lines[i] ?? '', lineNo);
    cursor.space();
    if (cursor.end() || cursor.peek() === '#') continue;
    if (cursor.peek() === '[') {
      if (cursor.rest().startsWith('[[')) throw new TomlError('arrays of tables are not supported', lineNo);
      cursor.expect('[');
      const path = cursor.keyPath();
      cursor.expect(']');
      cursor.trailing();
      const name = JSON.stringify(path);
      if (defined.has(name)) throw new TomlError(`table [${path.join('.')}] defined twice`, lineNo);
      defined.add(name);
      current = descend(root, path, lineNo);
      continue;
    }
    const path = cursor.keyPath();
    cursor.expect('=');
    cursor.space();
    const value = cursor.value();
    cursor.trailing();
    const last = path.pop() ?? '';
    const target = descend(current, path, lineNo);
    if (Object.prototype.hasOwnProperty.call(target, last)) throw new TomlError(`duplicate key ${last}`, lineNo);
    target[last] = value;
  }
  return root;
}

function descend(from: TomlTable, path: string[], line: number): TomlTable {
  let t = from;
  for (const key of path) {
    const next = Object.prototype.hasOwnProperty.call(t, key) ? t[key] : undefined;
    if (next === undefined) {
      const created = table();
      t[key] = created;
      t = created;
    } else if (typeof next === 'object' && !Array.isArray(next)) {
      t = next;
    } else {
      throw new TomlError(`${key} is not a table`, line);
    }
  }
  return t;
}

class Cursor {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly line: number,
  ) {}

  end(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  rest(): string {
    return this.text.slice(this.pos);
  }
  space(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  fail(message: string): never {
    throw new TomlError(message, this.line);
  }
  expect(ch: string): void {
    this.space();
    if (this.peek() !== ch) this.fail(`expected '${ch}' at column ${this.pos + 1}`);
    this.pos++;
  }
  trailing(): void {
    this.space();
    if (!this.end() && this.peek() !== '#') this.fail(`unexpected '${this.rest()}'`);
  }

  keyPath(): string[] {
    const path: string[] = [];
    for (;;) {
      this.space();
      path.push(this.key());
      this.space();
      if (this.peek() !== '.') return path;
      this.pos++;
    }
  }

  private key(): string {
    const ch = this.peek();
    if (ch === '"') return this.basicString();
    if (ch === "'") return this.literalString();
    const m = /^[A-Za-z0-9_-]+/.exec(this.rest());
    if (!m) this.fail('expected a key');
    this.pos += m[0].length;
    return m[0];
  }

  value(): TomlValue {
    const ch = this.peek();
    if (ch === '"') {
      if (this.rest().startsWith('"""')) this.fail('multi-line strings are not supported');
      return this.basicString();
    }
    if (ch === "'") return this.literalString();
    if (ch === '[') return this.array();
    if (ch === '{') this.fail('inline tables are not supported');
    const m = /^[^\s,\]#]+/.exec(this.rest());
    if (!m) this.fail('expected a value');
    this.pos += m[0].length;
    const word = m[0];
    if (word === 'true') return true;
    if (word === 'false') return false;
    // TOML numbers: no leading zeros, an underscore only between two digits
    if (/^[+-]?(0|[1-9](_?\d)*)$/.test(word)) return Number(word.replace(/_/g, ''));
    if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ''), 16);
    if (/^0o[0-7](_?[0-7])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ''), 8);
    if (/^0b[01](_?[01])*$/.test(word)) return Number.parseInt(word.slice(2).replace(/_/g, ''), 2);
    if (/^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/.test(word)) return Number(word.replace(/_/g, ''));
    return this.fail(`unsupported value ${word}`);
  }

  private array(): TomlValue[] {
    this.expect('[');
    const items: TomlValue[] = [];
    for (;;) {
      this.space();
      if (this.peek() === ']') break;
      items.push(this.value());
      this.space();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== ']') this.fail('expected , or ] in array (arrays must fit on one line)');
    }
    this.pos++;
    return items;
  }

  private basicString(): string {
    this.pos++;
    let out = '';
    for (;;) {
      if (this.end()) this.fail('unterminated string');
      const ch = this.text[this.pos++] ?? '';
      if (ch === '"') return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const esc = this.text[this.pos++] ?? '';
      const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
      if (esc in simple) out += simple[esc];
      else if (esc === 'u' || esc === 'U') {
        const len = esc === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + len);
        if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) this.fail('bad unicode escape');
        const code = Number.parseInt(hex, 16);
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) this.fail(`bad unicode escape \\${esc}${hex}: not a Unicode scalar value`);
        out += String.fromCodePoint(code);
        this.pos += len;
      } else this.fail(`bad escape \\${esc}`);
    }
  }

  private literalString(): string {
    this.pos++;
    const close = this.text.indexOf("'", this.pos);
    if (close < 0) this.fail('unterminated string');
    const out = this.text.slice(this.pos, close);
    this.pos = close + 1;
    return out;
  }
}
