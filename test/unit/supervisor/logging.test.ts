import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLimits, splitRecords } from '../../../supervisor/logging/driver';
import { LOG_FILE, encodeData, encodeMark, parseRecord, rotatedFiles } from '../../../supervisor/logging/format';
import { followLog, readLog } from '../../../supervisor/logging/reader';
import { RotatingFile } from '../../../supervisor/logging/rotating-file';
import { loggerUri } from '../../../supervisor/logging/uri';

async function collect(it: AsyncIterable<{ kind: string }>): Promise<string> {
  let out = '';
  for await (const r of it) out += r.kind === 'data' ? (r as unknown as { log: string }).log : `<${(r as unknown as { mark: string }).mark}>`;
  return out;
}

describe('supervisor/logging', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'tsrunc-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('splits output into records: one per line with its newline, a trailing fragment alone, long lines cut', () => {
    assert.deepEqual(splitRecords('a\nbb\nccc'), ['a\n', 'bb\n', 'ccc']);
    assert.deepEqual(splitRecords('\n\n'), ['\n', '\n']);
    assert.deepEqual(splitRecords(''), []);
    const long = 'x'.repeat(40 * 1024);
    assert.deepEqual(
      splitRecords(`${long}\n`).map((s) => s.length),
      [16384, 16384, 8193],
    );
  });

  it('writes docker json-file records and markers, and reads them back', () => {
    assert.equal(encodeData('stderr', 'hi\n', 'T'), '{"log":"hi\\n","stream":"stderr","time":"T"}\n');
    assert.deepEqual(parseRecord('{"log":"hi\\n","stream":"stdout","time":"T"}'), { kind: 'data', stream: 'stdout', log: 'hi\n', time: 'T' });
    assert.deepEqual(parseRecord(encodeMark('eof', 'T').trim()), { kind: 'mark', mark: 'eof', time: 'T' });
    assert.equal(parseRecord('{"log":1}'), undefined);
    assert.equal(parseRecord('{"log":"x","stre'), undefined);
  });

  it('rotates by size, keeps maxFiles files, never splits a record', () => {
    const f = new RotatingFile(dir, { maxSize: 100, maxFiles: 3 });
    for (let i = 1; i <= 20; i++) f.write(encodeData('stdout', `${i}\n`, 'T'));
    f.close();
    assert.deepEqual(readdirSync(dir).sort(), [LOG_FILE, `${LOG_FILE}.1`, `${LOG_FILE}.2`]);
    for (const name of readdirSync(dir)) {
      const text = readFileSync(join(dir, name), 'utf8');
      assert.ok(text.length <= 100, `${name} is ${text.length} bytes`);
      for (const line of text.trimEnd().split('\n')) assert.ok(parseRecord(line), `${name}: whole records only`);
    }
    assert.deepEqual(rotatedFiles(dir), [join(dir, `${LOG_FILE}.2`), join(dir, `${LOG_FILE}.1`)]);
  });

  it('splits a batch of records that does not fit over files, none past the limit', () => {
    const f = new RotatingFile(dir, { maxSize: 100, maxFiles: 20 });
    f.write(Array.from({ length: 30 }, (_, i) => encodeData('stdout', `${i}\n`, 'T')).join(''));
    f.close();
    for (const name of readdirSync(dir)) assert.ok(readFileSync(join(dir, name)).length <= 100, name);
    assert.equal(readdirSync(dir).length > 5, true);
  });

    it('reads rotated files oldest first, then the current one', async () => {
    const f = new RotatingFile(dir, { maxSize: 60, maxFiles: 10 });
    for (let i = 1; i <= 10; i++) f.write(encodeData('stdout', `${i}\n`, 'T'));
    f.close();
    assert.equal(await collect(readLog(dir)), '1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n');
  });

  it('follows appends and rotations until told to stop, reading the renamed file to its end first', async () => {
    writeFileSync(join(dir, LOG_FILE), encodeMark('start', 'T') + encodeData('stdout', 'a\n', 'T'));
    const ac = new AbortController();
    let stop = false;
    const seen: string[] = [];
    const reading = (async () => {
      for await (const r of followLog(dir, { shouldStop: () => stop, signal: ac.signal, pollMs: 20 })) {
        seen.push(r.kind === 'data' ? r.log : `<${r.mark}>`);
      }
    })();
    const until = async (n: number): Promise<void> => {
      for (let i = 0; seen.length < n && i < 250; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(2);
    appendFileSync(join(dir, LOG_FILE), encodeData('stdout', 'b\n', 'T'));
    await until(3);
    // rotate as the driver does: more data into the old file after we read it, rename, new file
    appendFileSync(join(dir, LOG_FILE), encodeData('stderr', 'c\n', 'T'));
    renameSync(join(dir, LOG_FILE), join(dir, `${LOG_FILE}.1`));
    writeFileSync(join(dir, LOG_FILE), encodeData('stdout', 'd\n', 'T') + encodeMark('eof', 'T'));
    await until(6);
    stop = true;
    await reading;
    assert.deepEqual(seen, ['<start>', 'a\n', 'b\n', 'c\n', 'd\n', '<eof>']);
  });

  it('reads the driver settings, with defaults', () => {
    assert.deepEqual(readLimits(dir), { maxSize: 10 * 1024 * 1024, maxFiles: 3 });
    writeFileSync(join(dir, 'log-config.json'), '{"maxSize":2048,"maxFiles":5}');
    assert.deepEqual(readLimits(dir), { maxSize: 2048, maxFiles: 5 });
  });

  it('names the driver in a binary:// URI with a single query key (Go passes keys in random order)', () => {
    const uri = loggerUri('/opt/my tools/bin/tsrunc', '/var/lib/tsrunc/tasks/ns/abc');
    assert.equal(uri, 'binary:///opt/my%20tools/bin/tsrunc?log-driver=%2Fvar%2Flib%2Ftsrunc%2Ftasks%2Fns%2Fabc');
    const u = new URL(uri);
    assert.deepEqual([decodeURIComponent(u.pathname), [...u.searchParams]], ['/opt/my tools/bin/tsrunc', [['log-driver', '/var/lib/tsrunc/tasks/ns/abc']]]);
  });
});
