/**
 * What a process's stdio strings mean (PROTOCOL §10.1): the scheme of `stdout` selects the mode —
 * no scheme or `fifo` → paths of FIFOs the client made; `binary://` → a logging driver binary;
 * `file://` → append both streams to one file; all empty → null IO.
 */

export type StdioMode =
  | { kind: 'null' }
  | { kind: 'fifo'; stdin: string; stdout: string; stderr: string }
  | { kind: 'file'; stdin: string; path: string }
  | { kind: 'binary'; stdin: string; path: string; args: string[] };

/** The stdio of a process as the client gave it. */
export interface StdioConfig {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** A stdio string the shim cannot use. */
export class StdioUriError extends Error {
  override readonly name = 'StdioUriError';
}

/** Decides the mode from the stdio strings. */
export function parseStdio(stdio: StdioConfig): StdioMode {
  if (!stdio.stdin && !stdio.stdout && !stdio.stderr) return { kind: 'null' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(stdio.stdout)?.[1];
  if (scheme === undefined || scheme === 'fifo') {
    const strip = (s: string): string => (s.startsWith('fifo://') ? s.slice('fifo://'.length) : s);
    return { kind: 'fifo', stdin: strip(stdio.stdin), stdout: strip(stdio.stdout), stderr: strip(stdio.stderr) };
  }
  let url: URL;
  try {
    url = new URL(stdio.stdout);
  } catch {
    throw new StdioUriError(`invalid stdio URI ${stdio.stdout}`);
  }
  const path = decodeURIComponent(url.pathname);
  if (!path.startsWith('/')) throw new StdioUriError(`stdio URI must name an absolute path: ${stdio.stdout}`);
  if (scheme === 'file') return { kind: 'file', stdin: stdio.stdin, path };
  if (scheme === 'binary') {
    const args: string[] = [];
    const seen = new Set<string>();
    for (const [key, value] of url.searchParams) {
      if (seen.has(key)) continue; // Go passes each key with its first value
      seen.add(key);
      args.push(key, value);
    }
    return { kind: 'binary', stdin: stdio.stdin, path, args };
  }
  throw new StdioUriError(`unknown STDIO scheme ${scheme}`);
}
