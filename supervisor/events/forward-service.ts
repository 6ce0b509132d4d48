/**
 * The events endpoint shims publish to (TTRPC_ADDRESS): containerd's ttrpc Events service with its
 * one method, Forward. A ttrpc-ts Server on `<run>/events.sock` (0600), refusing peers of another
 * uid/gid at accept time (requireSameUser + SO_PEERCRED, as containerd's own ttrpc server does).
 *
 * Forward validates the envelope as containerd does (envelope.ts), decodes the task event and hands
 * it to the sink — the task manager, which applies it to the records and publishes it, in order —
 * before replying. Unknown event types are still handed on (raw), as containerd forwards them.
 */
import { chmodSync, rmSync } from 'node:fs';
import { RpcError, Server, requireSameUser } from 'ttrpc-ts';
import type { Native } from '../../native';
import { ErrdefsError, toStatus } from '../../proto/errdefs';
import { EventsServiceDefinition, type TaskEvent, type eventsApi, unpackEvent, wellKnown } from '../../proto/index';
import { fromTimestamp } from '../../proto/time';
import type { Logger } from '../util/log';
import { validateEnvelope } from './envelope';

/** A forwarded event after validation. */
export interface ForwardedEvent {
  readonly namespace: string;
  readonly topic: string;
  readonly timestamp: Date;
  /** The decoded task event, or undefined for a type we do not know. */
  readonly decoded: TaskEvent | undefined;
  readonly raw: { readonly typeUrl: string; readonly value: Uint8Array } | undefined;
}

/** Where validated events go; it must apply them synchronously (ordering). */
export type ForwardSink = (event: ForwardedEvent) => void;

/** Validates one ForwardRequest and decodes its event (throws InvalidArgument). */
export function decodeForward(request: eventsApi.ForwardRequest): ForwardedEvent {
  const envelope = request.envelope;
  validateEnvelope(envelope);
  const env = envelope as eventsApi.Envelope;
  const raw = env.event == null ? undefined : { typeUrl: env.event.typeUrl ?? '', value: env.event.value ?? new Uint8Array(0) };
  let decoded: TaskEvent | undefined;
  if (raw !== undefined) {
    try {
      decoded = unpackEvent(raw, env.topic);
    } catch {
      decoded = undefined; // not a task event (or on another topic): forwarded raw
    }
  }
  return { namespace: env.namespace, topic: env.topic, timestamp: fromTimestamp(env.timestamp), decoded, raw };
}

/** The events endpoint. */
export class ForwardService {
  private readonly server: Server;

  constructor(
    native: Pick<Native, 'getPeerCred'>,
    private readonly sink: ForwardSink,
    private readonly log: Logger,
  ) {
    this.server = new Server({ handshake: requireSameUser((fd) => native.getPeerCred(fd)) });
    this.server.on('refused', (err) => log.warn('events endpoint refused a connection', { err }));
    this.server.register(EventsServiceDefinition, {
      forward: (request) => Promise.resolve(this.forward(request)),
    });
  }

  /** Listens on `path` (a stale socket from a previous daemon is replaced), mode 0600. */
  async listen(path: string): Promise<void> {
    rmSync(path, { force: true });
    await this.server.listen({ path });
    chmodSync(path, 0o600);
  }

  /** Stops serving (in-flight forwards finish). */
  shutdown(): Promise<void> {
    return this.server.shutdown();
  }

  private forward(request: eventsApi.ForwardRequest): wellKnown.Empty {
    let event: ForwardedEvent;
    try {
      event = decodeForward(request);
    } catch (err) {
      const status = toStatus(err);
      this.log.warn('refused a forwarded event', { err });
      throw new RpcError(status.code, status.message);
    }
    try {
      this.sink(event);
    } catch (err) {
      // the event was valid: a failure to apply it is ours, reported to the shim as internal
      this.log.error('applying a forwarded event failed', { topic: event.topic, err });
      throw new RpcError(toStatus(new ErrdefsError('internal', (err as Error).message)).code, (err as Error).message);
    }
    return wellKnown.Empty.create();
  }
}
