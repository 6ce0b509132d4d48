/**
 * Handshake: runs before any byte is read, may refuse (socket destroyed without a byte written), and
 * requireSameUser with an injected peer-credentials reader (the real SO_PEERCRED reader lives in native/).
 */
import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { HandshakeError } from '../errors';
import { requireSameUser, type Handshake, type PeerCredentials } from '../handshake';
import { Server } from '../server';
import type { CallContext } from '../server-connection';
import { RawPeer, TempDir, TestService, TextCodec, deferred, delay, requestFrame } from './helpers';

describe('handshake', () => {
  const tmp = new TempDir();
  let server: Server | undefined;
  after(() => tmp.cleanup());
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(handshake: Handshake, onCall?: (ctx: CallContext) => void): Promise<string> {
    const socketPath = tmp.socketPath();
    server = new Server({ handshake }).register(TestService, {
      echo: (req, ctx) => {
        onCall?.(ctx);
        return Promise.resolve({ text: req.text });
      },
      wait: () => Promise.resolve({ text: '' }),
      state: () => Promise.resolve({ text: '' }),
      empty: () => Promise.resolve({}),
    });
    await server.listen({ path: socketPath });
    return socketPath;
  }

  it('a refusing hook closes the connection without a single byte written, and emits refused', async () => {
    const refusal = new Error('go away');
    const socketPath = await serve(() => Promise.reject(refusal));
    const refused = deferred<unknown>();
    server?.on('refused', (err) => refused.resolve(err));
    const peer = new RawPeer(socketPath);
    peer.write(requestFrame(1, TestService.name, 'Echo'));
    await peer.waitClosed();
    assert.equal(peer.received, 0);
    assert.equal(await refused.promise, refusal);
    assert.equal(server?.connectionCount, 0);
  });

  it('runs before any byte is read: a request sent at once waits for the hook, then is served', async () => {
    const release = deferred();
    let bytesRead = -1;
    const socketPath = await serve(async (socket) => {
      await release.promise;
      bytesRead = socket.bytesRead;
    });
    const peer = new RawPeer(socketPath);
    peer.write(requestFrame(1, TestService.name, 'Echo', TextCodec.encode({ text: 'early' })));
    await delay(50);
    assert.equal(peer.frames.length, 0);
    release.resolve();
    const { response } = await peer.nextResponse();
    assert.deepEqual(TextCodec.decode(response.payload), { text: 'early' });
    assert.equal(bytesRead, 0);
    peer.destroy();
  });

  describe('requireSameUser (injected reader)', () => {
    const me = { uid: 1000, gid: 1000 };

    it('refuses a peer whose uid differs, without a byte written', async () => {
      const reader = sinon.stub<[number], PeerCredentials>().returns({ pid: 4242, uid: 65534, gid: 1000 });
      const socketPath = await serve(requireSameUser(reader, me));
      const refused = deferred<unknown>();
      server?.on('refused', (err) => refused.resolve(err));
      const peer = new RawPeer(socketPath);
      peer.write(requestFrame(1, TestService.name, 'Echo'));
      await peer.waitClosed();
      assert.equal(peer.received, 0);
      const err = await refused.promise;
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.code, 'TTRPC_ERR_HANDSHAKE');
      assert.match(err.message, /invalid credentials: peer uid 65534 gid 1000/);
      assert.equal(reader.callCount, 1);
      const fd = reader.firstCall.args[0];
      assert.ok(Number.isInteger(fd) && fd >= 0, 'reader gets the accepted socket’s fd');
    });

    it('refuses a peer whose gid differs, and one whose credentials cannot be read', async () => {
      for (const reader of [
        (): PeerCredentials => ({ pid: 1, uid: 1000, gid: 0 }),
        (): PeerCredentials => {
          throw new Error('ENOTSOCK');
        },
      ]) {
        const socketPath = await serve(requireSameUser(reader, me));
        const peer = new RawPeer(socketPath);
        peer.write(requestFrame(1, TestService.name, 'Echo'));
        await peer.waitClosed();
        assert.equal(peer.received, 0);
        await server?.close();
      }
    });

    it('accepts a matching peer; its credentials reach the call context', async () => {
      const creds = { pid: 4242, uid: 1000, gid: 1000 };
      const seen = deferred<CallContext>();
      const socketPath = await serve(
        requireSameUser(() => creds, me),
        (ctx) => seen.resolve(ctx),
      );
      const peer = new RawPeer(socketPath);
      peer.write(requestFrame(1, TestService.name, 'Echo', TextCodec.encode({ text: 'ok' })));
      const { response } = await peer.nextResponse();
      assert.deepEqual(TextCodec.decode(response.payload), { text: 'ok' });
      assert.deepEqual((await seen.promise).peer, creds);
      peer.destroy();
    });

    it('defaults to this process’s effective uid and gid', async () => {
      const uid = process.geteuid?.() ?? -1;
      const gid = process.getegid?.() ?? -1;
      const socketPath = await serve(requireSameUser(() => ({ pid: process.pid, uid, gid })));
      const peer = new RawPeer(socketPath);
      peer.write(requestFrame(1, TestService.name, 'Echo'));
      assert.equal((await peer.nextResponse()).streamId, 1);
      peer.destroy();
    });
  });
});
