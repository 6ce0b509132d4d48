/** The file:// log (PROTOCOL §10.6): one append-only file, created with its parent directory. */
import { createWriteStream, mkdirSync, openSync, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import { type Writable } from 'node:stream';
import { O_CLOEXEC } from '../util/open-file';

/**
 * Opens `path` for appending (mkdir -p 0755, file 0644). A regular file: fs writes (pool threads)
 * are fine here, FIFOs and terminals are never written this way. Write errors end the stream
 * quietly (a full disk must not crash the shim).
 */
export function openAppendFile(path: string): Writable {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | O_CLOEXEC, 0o644);
  const stream = createWriteStream('', { fd, autoClose: true });
  stream.on('error', () => undefined);
  return stream;
}
