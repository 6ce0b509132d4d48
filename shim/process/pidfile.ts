/** Reading the pid file runc writes with --pid-file. */
import { readFileSync } from 'node:fs';

/** The pid in `path`; throws when it is missing or not a pid. */
export function readPidFile(path: string): number {
  const text = readFileSync(path, 'utf8').trim();
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid <= 0 || String(pid) !== text) throw new Error(`${path} does not hold a pid: "${text}"`);
  return pid;
}
