/**
 * Golden bytes: the real traffic captured in shared/PROTOCOL.md §6.9, both ways — our encoders produce
 * exactly these bytes, our decoders read exactly these fields — and end to end through Client and Server.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Client } from '../client';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../codec';
import { FrameType, decodeHeader, encodeFrame } from '../frame';
import { Server } from '../server';
import type { Codec } from '../service';
import { Code, RpcError } from '../status';
import { ProtoReader, ProtoWriter } from '../wire';
import { RawPeer, TempDir, bytes, requestFrame, text } from './helpers';

// Vectors, as printed in PROTOCOL.md §6.9.
const CONNECT_REQUEST = bytes('00000029 00000001 01 00', '0a17', 'containerd.task.v2.Task', '1207', 'Connect', '1a05 0a03', 'rx1');
const CONNECT_REPLY = bytes('0000000a 00000001 02 00', '12 08 08 d5 da 01 10 f1 da 01');
const STATE_NOT_FOUND = bytes('00000026 00000001 02 00', '0a 24 08 05 12 20', 'container not created: not found');
const UNKNOWN_METHOD_DATA = bytes('0a 0f 08 0c 12 0b', 'method Nope');
const EMPTY_REPLY = bytes('00000000 00000003 02 00');
const FORWARD_REQUEST = bytes(
  '000000b0 00000003 01 00',
  '0a2a', 'containerd.services.events.ttrpc.v1.Events', '1207', 'Forward',
  '1a4e 0a4c',
  '0a0b 08a1f38cd806 10bfd9fd62',
  '1205', 'rsrch', '1a0c', '/tasks/start',
  '2228 0a1b', 'containerd.events.TaskStart', '1209 0a03', text('rx3'), '10d8e301',
  '20ec8897d012',
  '2a23 0a1a', 'containerd-namespace-ttrpc', '1205', 'rsrch',
);

// The payload messages, encoded by hand (field numbers from the task and events protos).
const connectRequest = (id: string): Buffer => new ProtoWriter().string(1, id).finish();
const connectResponse = (shimPid: number, taskPid: number): Buffer => new ProtoWriter().uint(1, shimPid).uint(2, taskPid).finish();
function forwardRequest(): Buffer {
  const timestamp = new ProtoWriter().uint(1, 1795373473).uint(2, 207580351).finish();
  const taskStart = new ProtoWriter().string(1, 'rx3').uint(2, 29144).finish();
  const any = new ProtoWriter().string(1, 'containerd.events.TaskStart').bytes(2, taskStart).finish();
  const envelope = new ProtoWriter().bytes(1, timestamp).string(2, 'rsrch').string(3, '/tasks/start').bytes(4, any).finish();
  return new ProtoWriter().bytes(1, envelope).finish();
}

interface ConnectRequest {
  id: string;
}
interface ConnectResponse {
  shimPid: number;
  taskPid: number;
}
const ConnectRequestCodec: Codec<ConnectRequest> = {
  encode: (v) => connectRequest(v.id),
  decode(b) {
    const r = new ProtoReader(b);
    const out = { id: '' };
    while (!r.done) {
      const k = r.key();
      if (k.field === 1) out.id = r.string();
      else r.skip(k.wireType, k.field);
    }
    return out;
  },
};
const ConnectResponseCodec: Codec<ConnectResponse> = {
  encode: (v) => connectResponse(v.shimPid, v.taskPid),
  decode(b) {
    const r = new ProtoReader(b);
    const out = { shimPid: 0, taskPid: 0 };
    while (!r.done) {
      const k = r.key();
      if (k.field === 1) out.shimPid = r.uint32();
      else if (k.field === 2) out.taskPid = r.uint32();
      else r.skip(k.wireType, k.field);
    }
    return out;
  },
};
const Task = {
  name: 'containerd.task.v2.Task',
  methods: {
    connect: { name: 'Connect', requestType: ConnectRequestCodec, responseType: ConnectResponseCodec },
    state: { name: 'State', requestType: ConnectRequestCodec, responseType: ConnectResponseCodec },
  },
};

describe('golden bytes (PROTOCOL.md §6.9)', () => {
  describe('encode → exact bytes', () => {
    it('Connect request frame', () => {
      const data = encodeRequest({ service: 'containerd.task.v2.Task', method: 'Connect', payload: connectRequest('rx1'), timeoutNano: 0n, metadata: [] });
      assert.deepEqual(encodeFrame(1, FrameType.Request, data), CONNECT_REQUEST);
    });

    it('ConnectResponse reply frame (no status field on success)', () => {
      const data = encodeResponse({ payload: connectResponse(27989, 28017) });
      assert.deepEqual(encodeFrame(1, FrameType.Response, data), CONNECT_REPLY);
    });

    it('State NOT_FOUND error reply frame', () => {
      const data = encodeResponse({ status: { code: Code.NOT_FOUND, message: 'container not created: not found', details: [] }, payload: new Uint8Array(0) });
      assert.deepEqual(encodeFrame(1, FrameType.Response, data), STATE_NOT_FOUND);
    });

    it('unknown method reply data', () => {
      const data = encodeResponse({ status: { code: Code.UNIMPLEMENTED, message: 'method Nope', details: [] }, payload: new Uint8Array(0) });
      assert.deepEqual(data, UNKNOWN_METHOD_DATA);
    });

    it('Empty reply: a zero-length response frame', () => {
      const data = encodeResponse({ payload: new Uint8Array(0) });
      assert.equal(data.length, 0);
      assert.deepEqual(encodeFrame(3, FrameType.Response, data), EMPTY_REPLY);
    });

    it('Forward request envelope, fields in order service, method, payload, timeout_nano, metadata', () => {
      const data = encodeRequest({
        service: 'containerd.services.events.ttrpc.v1.Events',
        method: 'Forward',
        payload: forwardRequest(),
        timeoutNano: 4999988332n,
        metadata: [{ key: 'containerd-namespace-ttrpc', value: 'rsrch' }],
      });
      assert.deepEqual(encodeFrame(3, FrameType.Request, data), FORWARD_REQUEST);
    });
  });

  describe('decode bytes → exact fields', () => {
    it('Connect request frame', () => {
      assert.deepEqual(decodeHeader(CONNECT_REQUEST), { length: 0x29, streamId: 1, type: 1, flags: 0 });
      const req = decodeRequest(CONNECT_REQUEST.subarray(10));
      assert.equal(req.service, 'containerd.task.v2.Task');
      assert.equal(req.method, 'Connect');
      assert.deepEqual(Buffer.from(req.payload), connectRequest('rx1'));
      assert.equal(req.timeoutNano, 0n);
      assert.deepEqual(req.metadata, []);
    });

    it('ConnectResponse reply frame', () => {
      assert.deepEqual(decodeHeader(CONNECT_REPLY), { length: 10, streamId: 1, type: 2, flags: 0 });
      const res = decodeResponse(CONNECT_REPLY.subarray(10));
      assert.equal(res.status, undefined);
      assert.deepEqual(ConnectResponseCodec.decode(res.payload), { shimPid: 27989, taskPid: 28017 });
    });

    it('State NOT_FOUND error reply frame', () => {
      assert.deepEqual(decodeHeader(STATE_NOT_FOUND), { length: 0x26, streamId: 1, type: 2, flags: 0 });
      const res = decodeResponse(STATE_NOT_FOUND.subarray(10));
      assert.deepEqual(res.status, { code: 5, message: 'container not created: not found', details: [] });
      assert.equal(res.payload.length, 0);
    });

    it('unknown method reply data', () => {
      assert.deepEqual(decodeResponse(UNKNOWN_METHOD_DATA).status, { code: 12, message: 'method Nope', details: [] });
    });

    it('zero-length Empty response frame', () => {
      assert.deepEqual(decodeHeader(EMPTY_REPLY), { length: 0, streamId: 3, type: 2, flags: 0 });
      const res = decodeResponse(EMPTY_REPLY.subarray(10));
      assert.equal(res.status, undefined);
      assert.equal(res.payload.length, 0);
    });

    it('Forward request envelope', () => {
      assert.deepEqual(decodeHeader(FORWARD_REQUEST), { length: 0xb0, streamId: 3, type: 1, flags: 0 });
      const req = decodeRequest(FORWARD_REQUEST.subarray(10));
      assert.equal(req.service, 'containerd.services.events.ttrpc.v1.Events');
      assert.equal(req.method, 'Forward');
      assert.deepEqual(Buffer.from(req.payload), forwardRequest());
      assert.equal(req.timeoutNano, 4999988332n);
      assert.deepEqual(req.metadata, [{ key: 'containerd-namespace-ttrpc', value: 'rsrch' }]);
    });
  });

  describe('end to end through a real socket', () => {
    const tmp = new TempDir();
    after(() => tmp.cleanup());

    it('the Server answers Connect, State (NOT_FOUND) and an unknown method with the captured bytes', async () => {
      const path = tmp.socketPath();
      const server = new Server().register(Task, {
        connect: (req) => {
          assert.equal(req.id, 'rx1');
          return Promise.resolve({ shimPid: 27989, taskPid: 28017 });
        },
        state: () => Promise.reject(new RpcError(Code.NOT_FOUND, 'container not created: not found')),
      });
      await server.listen({ path });
      try {
        for (const [request, expected] of [
          [CONNECT_REQUEST, CONNECT_REPLY],
          [requestFrame(1, 'containerd.task.v2.Task', 'State', connectRequest('rx9')), STATE_NOT_FOUND],
          [requestFrame(1, 'containerd.task.v2.Task', 'Nope'), bytes('00000011 00000001 02 00', UNKNOWN_METHOD_DATA)],
        ] as const) {
          const peer = new RawPeer(path);
          peer.write(request);
          await peer.waitFrames(1);
          assert.deepEqual(peer.rawBytes, expected);
          peer.destroy();
        }
      } finally {
        await server.close();
      }
    });

    it('the Client sends the captured Connect request frame and decodes the captured reply', async () => {
      const path = tmp.socketPath();
      const received: Buffer[] = [];
      const raw = net.createServer((socket) => {
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          if (Buffer.concat(received).length >= CONNECT_REQUEST.length) socket.write(CONNECT_REPLY);
        });
      });
      await new Promise<void>((resolve) => raw.listen(path, resolve));
      const client = await Client.connect(`unix://${path}`);
      try {
        const reply = await client.service(Task).connect({ id: 'rx1' });
        assert.deepEqual(reply, { shimPid: 27989, taskPid: 28017 });
        assert.deepEqual(Buffer.concat(received), CONNECT_REQUEST);
      } finally {
        await client.close();
        await new Promise((resolve) => raw.close(resolve));
      }
    });
  });
});
