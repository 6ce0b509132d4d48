import assert from 'node:assert/strict';
import { DetachScanner } from '../../../supervisor/cli/session';

describe('supervisor/cli/session: the detach sequence ctrl-p ctrl-q', () => {
  const feed = (s: DetachScanner, text: string): { send: string; detach: boolean } => {
    const r = s.feed(Buffer.from(text, 'latin1'));
    return { send: Buffer.from(r.send).toString('latin1'), detach: r.detach };
  };

  it('detaches on ctrl-p ctrl-q, passing on what came before and dropping what follows', () => {
    assert.deepEqual(feed(new DetachScanner(), 'ls\x10\x11rest'), { send: 'ls', detach: true });
  });

  it('finds the sequence split across chunks', () => {
    const s = new DetachScanner();
    assert.deepEqual(feed(s, 'a\x10'), { send: 'a', detach: false });
    assert.deepEqual(feed(s, '\x11'), { send: '', detach: true });
  });

  it('passes a lone ctrl-p on (with what follows it), including ctrl-p ctrl-p', () => {
    const s = new DetachScanner();
    assert.deepEqual(feed(s, '\x10x'), { send: '\x10x', detach: false });
    assert.deepEqual(feed(s, '\x10\x10'), { send: '\x10', detach: false });
    assert.deepEqual(feed(s, '\x11'), { send: '', detach: true });
  });
});
