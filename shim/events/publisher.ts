/**
 * Sends events to containerd's ttrpc endpoint (TTRPC_ADDRESS): Events/Forward with the namespace
 * metadata and a 5 s deadline (PROTOCOL §8.1). One connection, dialled lazily; when it is found
 * closed the send reconnects once and retries at once, and otherwise fails so the queue backs off.
 */
import { Client, ClosedError, Code, isRpcError } from 'ttrpc-ts';
import { EventsServiceDefinition, toTimestamp } from '../../proto';
import { type OutgoingEvent } from './queue';

const FORWARD_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 5000;
const NAMESPACE_KEY = 'containerd-namespace-ttrpc';

/** Forwards events over ttrpc. */
export class EventPublisher {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;

  constructor(
    private readonly address: string,
    private readonly namespace: string,
  ) {}

  /** Sends one event (see the file comment for the retry rule). */
  readonly send = async (event: OutgoingEvent): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      try {
        await client.service(EventsServiceDefinition).forward(
          {
            envelope: {
              timestamp: toTimestamp(event.timestamp),
              namespace: this.namespace,
              topic: event.topic,
              event: { typeUrl: event.typeUrl, value: event.value },
            },
          },
          { timeout: FORWARD_TIMEOUT_MS, metadata: { [NAMESPACE_KEY]: this.namespace } },
        );
        return;
      } catch (err) {
        if (err instanceof ClosedError && attempt === 0 && !this.closed) {
          this.drop(client);
          continue;
        }
        throw err;
      }
    }
  };

  /** True for errors a retry cannot fix: containerd refused the event itself. */
  static isPermanent(err: unknown): boolean {
    return isRpcError(err) && err.code === Code.INVALID_ARGUMENT;
  }

  /**
   * True for an error status other than a timeout or unavailability: containerd was reached and
   * failed the event (or something else listens at the address: Unimplemented). A few retries
   * may help; for ever would hold back every later event (the queue drops it after a few).
   */
  static isAnswered(err: unknown): boolean {
    return isRpcError(err) && err.code !== Code.UNAVAILABLE && err.code !== Code.DEADLINE_EXCEEDED;
  }

  private connect(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error('event publisher closed'));
    if (this.client && !this.client.closed) return Promise.resolve(this.client);
    this.connecting ??= Client.connect(this.address, { timeout: CONNECT_TIMEOUT_MS }).then(
      (client) => {
        this.connecting = undefined;
        if (this.closed) {
          // closed while connecting (a shutdown gave up on a containerd that hung): not ours to keep
          void client.close();
          throw new Error('event publisher closed');
        }
        client.unref(); // an idle event connection must not keep the daemon alive
        client.once('close', () => this.drop(client));
        this.client = client;
        return client;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private drop(client: Client): void {
    if (this.client === client) this.client = undefined;
    void client.close();
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}
