import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sha256Hex } from '../../../shim/util/sha256';
import { socketAddress } from '../../../shim/manager/socket';

const reference = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('shim/util/sha256', () => {
  it('gives the FIPS 180-4 test vectors', () => {
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('agrees with node:crypto at every length around the block and padding boundaries, and on multi-byte text', () => {
    for (let length = 0; length <= 300; length++) {
      const text = randomBytes(length).toString('latin1');
      assert.equal(sha256Hex(text), reference(text), `length ${length}`);
    }
    for (const text of ['/run/containerd/containerd.sock/k8s.io/pod-é', '名前空間/コンテナ', '\u{1F600}'.repeat(40)]) assert.equal(sha256Hex(text), reference(text), text);
  });

  it("names the socket where containerd and Go's shim expect it", () => {
    assert.equal(socketAddress('/run/containerd/containerd.sock', 'default', 'c1'), `unix:///run/containerd/s/${reference('/run/containerd/containerd.sock/default/c1')}`);
  });
});
