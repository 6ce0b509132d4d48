/**
 * Command-line parsing for the CLI verbs, docker style: options first (`-d`, `--name web`,
 * `--name=web`, `-e A=1 -e B=2`, clustered booleans `-it`), then positionals; `--` ends the options
 * and everything after it is positional as is. Options stop at the first positional when the verb
 * takes a command (`run`, `exec`), so the command's own flags are left alone.
 */

/** One option of a verb. */
export interface OptionSpec {
  /** Spellings, e.g. ['-d', '--detach']. */
  readonly names: readonly string[];
  /** bool: no value; string: one value (last wins); list: repeatable. */
  readonly kind: 'bool' | 'string' | 'list';
  /** Key in the result. */
  readonly key: string;
}

/** Parsed arguments. */
export interface ParsedArgs {
  readonly bools: ReadonlySet<string>;
  readonly strings: ReadonlyMap<string, string>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

/** A mistake on the command line: printed with the verb's usage, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses `argv` against `specs`; `stopAtPositional` leaves everything from the first positional on untouched. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], stopAtPositional: boolean): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const bools = new Set<string>();
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const positionals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      return { bools, strings, lists, positionals };
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      if (stopAtPositional) {
        const rest = argv.slice(i + 1);
        positionals.push(...(rest[0] === '--' ? rest.slice(1) : rest));
        return { bools, strings, lists, positionals };
      }
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = byName.get(name);
    if (spec === undefined) {
      const cluster = /^-[A-Za-z]{2,}$/.test(arg) ? [...arg.slice(1)].map((c) => byName.get(`-${c}`)) : [];
      if (cluster.length > 0 && cluster.every((s) => s?.kind === 'bool')) {
        for (const s of cluster) if (s !== undefined) bools.add(s.key);
        continue;
      }
      throw new UsageError(`unknown flag: ${name}`);
    }
    if (spec.kind === 'bool') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`${name} takes no value (or =true/=false)`);
        if (v === 'true') bools.add(spec.key);
      } else {
        bools.add(spec.key);
      }
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`flag needs an argument: ${name}`);
    if (spec.kind === 'string') strings.set(spec.key, value);
    else lists.set(spec.key, [...(lists.get(spec.key) ?? []), value]);
  }
  return { bools, strings, lists, positionals };
}
