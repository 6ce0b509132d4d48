/**
 * The answer a daemon leaves for the `delete` action (shim/manager/delete-answer.ts) and the way
 * bin/containerd-shim-tsrunc-v2 prints it: the shell's own `read -r` and `printf`, on the real
 * /bin/sh. Every byte value must come out as itself — NUL, backslash and `%` included — because a
 * DeleteResponse's varints and timestamp can hold any of them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DELETE_ANSWER_FILE, KILLED_STATUS, deleteResponse, forgetDeleteAnswer, leaveDeleteAnswer, printfEscaped } from '../../shim/manager/delete-answer';

/** The shells /bin/sh may be: whichever of them this machine has. */
const SHELLS: string[][] = [['/bin/sh'], ['/bin/dash'], ['/bin/bash', '--posix'], ['/bin/busybox', 'sh']].filter(([path]) => existsSync(path!));

/** What `IFS= read -r line < file; printf "$line"` prints, as the script does. */
function printedByShell(file: string, shell: string[] = ['/bin/sh']): Buffer {
  return execFileSync(shell[0]!, [...shell.slice(1), '-c', 'IFS= read -r answer <"$1" && printf "$answer"', 'sh', file]);
}

describe('the delete answer, printed by the shell', function () {
  let dir: string;
  // only a POSIX shell and a writable tmpdir: it runs anywhere, root or not
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'delete-answer-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('every byte value 0–255 comes out of printf as itself, in every shell /bin/sh may be', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const file = join(dir, 'all');
    writeFileSync(file, `${printfEscaped(all)}\n`);
    assert.ok(SHELLS.length > 0);
    for (const shell of SHELLS) assert.deepEqual(printedByShell(file, shell), all, shell.join(' '));
  });

  it('leaves one 0600 line that prints the DeleteResponse of the Node action, and forgets it', () => {
    leaveDeleteAnswer(dir, 8398, 1795377560414);
    const file = join(dir, DELETE_ANSWER_FILE);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^(\\[0-7]{3})+\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(printedByShell(file), Buffer.from(deleteResponse(8398, KILLED_STATUS, 1795377560414)));
    leaveDeleteAnswer(dir, 0, 1795377560414);
    assert.deepEqual(printedByShell(file), Buffer.from(deleteResponse(-1, KILLED_STATUS, 1795377560414)), 'no pid: uint32(-1), as the Node action');
    forgetDeleteAnswer(dir);
    assert.equal(existsSync(file), false);
    forgetDeleteAnswer(dir); // nothing there: no error
  });
});
