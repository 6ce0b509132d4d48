/**
 * EventPublisher (shim/events/publisher.ts, PROTOCOL §8.1) against an in-process ttrpc-ts server
 * serving containerd's Events service on a temporary unix socket: the Forward envelope and call
 * metadata as containerd sees them, one connection reused, reconnect-once when containerd closed
 * it, and which failures are permanent.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { ClosedError, Code, RpcError, Server, type CallContext } from 'ttrpc-ts';
import { EventsServiceDefinition, type eventsApi, timestampToNanos, type wellKnown } from '../../../proto';
import { EventPublisher } from '../../../shim/events/publisher';
import { EventQueue, type OutgoingEvent } from '../../../shim/events/queue';
import { Deferred, tempDir } from './fakes';

interface Received {
  request: eventsApi.ForwardRequest;
  namespaceHeader: string | undefined;
  timeoutMs: number | undefined;
}

const EXIT: OutgoingEvent = {
  topic: '/tasks/exit',
  typeUrl: 'containerd.events.TaskExit',
  value: new Uint8Array([0x0a, 0x03, 0x72, 0x78, 0x32]),
  timestamp: 1795377560414523717n,
};

describe('shim/events/publisher', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let server: Server;
  let listener: net.Server;
  /** Server-side sockets, in accept order. */
  let sockets: net.Socket[];
  let received: Received[];
  /** What the next Forward does (default: accept). */
  let handler: (n: number) => Promise<wellKnown.Empty>;
  let publisher: EventPublisher;

  beforeEach(async () => {
    dir = tempDir();
    path = join(dir.path, 'containerd.sock.ttrpc');
    sockets = [];
    received = [];
    handler = () => Promise.resolve({});
    server = new Server();
    server.register(EventsServiceDefinition, {
      forward: (request: eventsApi.ForwardRequest, ctx: CallContext) => {
        received.push({
          request,
          namespaceHeader: ctx.metadata.get('containerd-namespace-ttrpc'),
          timeoutMs: ctx.deadline === undefined ? undefined : ctx.deadline - Date.now(),
        });
        return handler(received.length - 1);
      },
    });
    listener = net.createServer();
    listener.on('connection', (s: net.Socket) => sockets.push(s));
    await new Promise<void>((resolve) => listener.listen(path, resolve));
    await server.listen(listener);
    publisher = new EventPublisher(path, 'rsrch');
  });

  afterEach(async () => {
    await publisher.close();
    await server.close();
    dir.cleanup();
  });

  it('forwards the envelope containerd validates: namespace, topic, the event time, the Any', async () => {
    await publisher.send(EXIT);
    assert.equal(received.length, 1);
    const envelope = received[0]?.request.envelope;
    assert.ok(envelope);
    assert.equal(envelope.namespace, 'rsrch');
    assert.equal(envelope.topic, '/tasks/exit');
    assert.equal(timestampToNanos(envelope.timestamp), EXIT.timestamp, 'the event time, to the nanosecond (non-zero)');
    assert.equal(envelope.event?.typeUrl, 'containerd.events.TaskExit');
    assert.deepEqual(Buffer.from(envelope.event?.value ?? []), Buffer.from(EXIT.value));
  });

  it('sends the namespace metadata and a 5 s timeout', async () => {
    await publisher.send(EXIT);
    const r = received[0];
    assert.equal(r?.namespaceHeader, 'rsrch');
    assert.ok(r?.timeoutMs !== undefined && r.timeoutMs > 4000 && r.timeoutMs <= 5000, `timeout ${r?.timeoutMs} ms`);
  });

  it('dials a unix:// address too', async () => {
    const other = new EventPublisher(`unix://${path}`, 'default');
    try {
      await other.send(EXIT);
      assert.equal(received[0]?.request.envelope?.namespace, 'default');
    } finally {
      await other.close();
    }
  });

  it('keeps one connection for many events', async () => {
    for (let i = 0; i < 5; i++) await publisher.send({ ...EXIT, topic: `/tasks/t${i}` });
    assert.equal(sockets.length, 1);
    assert.deepEqual(
      received.map((r) => r.request.envelope?.topic),
      ['/tasks/t0', '/tasks/t1', '/tasks/t2', '/tasks/t3', '/tasks/t4'],
    );
  });

  it('dials again when containerd closed the idle connection', async () => {
    await publisher.send(EXIT);
    const closed = new Deferred();
    sockets[0]?.once('close', () => closed.resolve());
    sockets[0]?.destroy();
    await closed.promise;
    await publisher.send({ ...EXIT, topic: '/tasks/delete' });
    assert.equal(sockets.length, 2);
    assert.equal(received.at(-1)?.request.envelope?.topic, '/tasks/delete');
  });

  it('reconnects once and retries at once when the connection dies under a call', async () => {
    handler = (n) => {
      if (n === 0) sockets[0]?.destroy(); // containerd went away mid-call
      return Promise.resolve({});
    };
    await publisher.send(EXIT);
    assert.equal(received.length, 2, 'sent twice');
    assert.equal(sockets.length, 2, 'on a new connection');
  });

  it('reconnects only once: a second dead connection fails the send (the queue backs off)', async () => {
    handler = (n) => {
      sockets[n]?.destroy();
      return Promise.resolve({});
    };
    await assert.rejects(publisher.send(EXIT), (err: unknown) => err instanceof ClosedError);
    assert.equal(received.length, 2);
    assert.equal(EventPublisher.isPermanent(new ClosedError('x')), false);
  });

  it('fails (not permanently) when nobody listens any more', async () => {
    await publisher.send(EXIT);
    await server.close(); // closes the listener and the connection, removes the socket file
    const err = await publisher.send(EXIT).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error, 'rejected');
    assert.equal(EventPublisher.isPermanent(err), false);
  });

  it('INVALID_ARGUMENT from containerd is permanent and not retried', async () => {
    handler = () => Promise.reject(new RpcError(Code.INVALID_ARGUMENT, 'timestamp must be set on forwarded event'));
    const err = await publisher.send(EXIT).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.equal(err.message, 'timestamp must be set on forwarded event');
    assert.equal(EventPublisher.isPermanent(err), true);
    assert.equal(received.length, 1);
  });

  it('other statuses are not permanent', () => {
    for (const code of [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.NOT_FOUND, Code.INTERNAL, Code.UNKNOWN]) {
      assert.equal(EventPublisher.isPermanent(new RpcError(code, 'x')), false, `code ${code}`);
    }
    assert.equal(EventPublisher.isPermanent(new Error('x')), false);
    assert.equal(EventPublisher.isPermanent(undefined), false);
  });

  it('an error status other than a timeout or unavailability is answered (the queue retries it a few times only); a dead connection is not', () => {
    for (const code of [Code.UNKNOWN, Code.INTERNAL, Code.NOT_FOUND, Code.UNIMPLEMENTED, Code.RESOURCE_EXHAUSTED]) {
      assert.equal(EventPublisher.isAnswered(new RpcError(code, 'x')), true, `code ${code}`);
    }
    for (const err of [new RpcError(Code.UNAVAILABLE, 'x'), new RpcError(Code.DEADLINE_EXCEEDED, 'x'), new ClosedError('x'), new Error('ECONNREFUSED'), undefined]) {
      assert.equal(EventPublisher.isAnswered(err), false, String(err));
    }
  });

  it('a close while the connection is being made sends nothing and keeps no connection', async () => {
    const sending = publisher.send(EXIT).then(
      () => 'sent',
      (e: unknown) => (e as Error).message,
    );
    await publisher.close(); // the connect is still on its way
    assert.equal(await sending, 'event publisher closed');
    assert.equal(received.length, 0);
    const deadline = Date.now() + 2000;
    while (sockets.some((s) => !s.destroyed) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(sockets.every((s) => s.destroyed), 'the connection that completed after the close was closed');
  });

  it('refuses to send after close', async () => {
    await publisher.close();
    await assert.rejects(publisher.send(EXIT), /event publisher closed/);
    assert.equal(received.length, 0);
  });

  it('behind the event queue: a refused event is dropped, the next one delivered, in order', async () => {
    handler = (n) => (n === 0 ? Promise.reject(new RpcError(Code.INVALID_ARGUMENT, 'bad topic')) : Promise.resolve({}));
    const drops: string[] = [];
    const queue = new EventQueue({ send: publisher.send, isPermanent: (e) => EventPublisher.isPermanent(e), onDrop: (e, why) => drops.push(`${e.topic}: ${why}`) });
    queue.publish('/tasks/bad', EXIT.typeUrl, EXIT.value, EXIT.timestamp);
    queue.publish('/tasks/exit', EXIT.typeUrl, EXIT.value, EXIT.timestamp);
    assert.equal(await queue.drain(5000), true);
    assert.deepEqual(drops, ['/tasks/bad: containerd refused it: bad topic']);
    assert.deepEqual(
      received.map((r) => r.request.envelope?.topic),
      ['/tasks/bad', '/tasks/exit'],
    );
  });
});
