/** Removes a file or socket if it is there; a missing one (or one we may not remove) is not an error. */
import { unlinkSync } from 'node:fs';

export function removeQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
