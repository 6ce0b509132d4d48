/**
 * Command-line flags of the benchmarks, each also settable as an environment variable
 * (`--idle-s 30` ≡ BENCH_IDLE_S=30). `--quick` switches every default to the quick preset; flags
 * given explicitly win over the preset.
 */

/** A numeric option: its flag name, full and quick defaults, and what it means. */
export interface NumberSpec {
  full: number;
  quick: number;
  help: string;
}

/** Parsed options: the numbers by name, the sections to run, and the rest. */
export interface Parsed<K extends string> {
  quick: boolean;
  values: Record<K, number>;
  only: Set<string> | undefined;
  json: string | undefined;
}

function envName(flag: string): string {
  return `BENCH_${flag.replace(/-/g, '_').toUpperCase()}`;
}

/** Thrown for a bad command line; the entry point prints usage. */
export class UsageError extends Error {}

/** Parses argv (without node and script) against `specs`; `sections` are the names `--only` accepts. */
export function parseOptions<K extends string>(argv: readonly string[], env: NodeJS.ProcessEnv, specs: Record<K, NumberSpec>, sections: readonly string[]): Parsed<K> {
  const given = new Map<string, string>();
  let quick = env['BENCH_QUICK'] === '1';
  let only: Set<string> | undefined = env['BENCH_ONLY'] ? new Set(env['BENCH_ONLY'].split(',')) : undefined;
  let json = env['BENCH_JSON'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') ? (arg.slice(2).split('=', 2) as [string, string | undefined]) : ['', undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${flag} needs a value`);
      return v;
    };
    if (flag === 'quick') quick = true;
    else if (flag === 'only') only = new Set(value().split(','));
    else if (flag === 'json') json = value();
    else if (flag in specs) given.set(flag, value());
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  for (const s of only ?? []) if (!sections.includes(s)) throw new UsageError(`unknown section "${s}" (sections: ${sections.join(', ')})`);
  const values = {} as Record<K, number>;
  for (const [name, spec] of Object.entries(specs) as [K, NumberSpec][]) {
    const raw = given.get(name) ?? env[envName(name)];
    const v = raw === undefined ? (quick ? spec.quick : spec.full) : Number(raw);
    if (!Number.isFinite(v) || v < 0) throw new UsageError(`--${name} must be a number ≥ 0, not "${raw}"`);
    values[name] = v;
  }
  return { quick, values, only, json };
}

/** Usage text for `specs`. */
export function usage(command: string, specs: Record<string, NumberSpec>, sections: readonly string[]): string {
  const lines = [`usage: ${command} [--quick] [--only ${sections.join(',')}] [--json FILE] [--NAME VALUE]…`, '', 'options (full default / --quick default; env BENCH_<NAME>):'];
  for (const [name, spec] of Object.entries(specs)) lines.push(`  --${name.padEnd(16)} ${String(spec.full).padStart(6)} / ${String(spec.quick).padEnd(6)} ${spec.help}`);
  lines.push('  --json FILE        also write the JSON line to FILE', '  --only a,b         run only these sections');
  return lines.join('\n');
}
