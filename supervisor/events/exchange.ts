/**
 * In-process publish/subscribe of the supervisor's events: what shims forward (task events) and
 * what the daemon itself publishes (containers created and removed, exits of dead shims).
 * Subscribers are called synchronously, in publication order; one that throws is logged and
 * dropped, never allowed to break the publisher.
 */

/** One event, decoded enough to filter and display; `event` is the raw Any when a shim sent it. */
export interface SupervisorEvent {
  readonly timestamp: Date;
  readonly namespace: string;
  readonly topic: string;
  readonly containerId: string;
  readonly containerName: string;
  readonly execId: string;
  readonly pid: number;
  readonly exitStatus: number;
  readonly exitedAt: Date | undefined;
  readonly event: { readonly typeUrl: string; readonly value: Uint8Array } | undefined;
}

/** A subscriber. */
export type Subscriber = (event: SupervisorEvent) => void;

/** The exchange. */
export class Exchange {
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly onSubscriberError: (err: unknown) => void = () => undefined) {}

  /** Delivers `event` to every subscriber, in subscription order. */
  publish(event: SupervisorEvent): void {
    for (const subscriber of [...this.subscribers]) {
      try {
        subscriber(event);
      } catch (err) {
        this.subscribers.delete(subscriber);
        this.onSubscriberError(err);
      }
    }
  }

  /** Subscribes; returns the function that unsubscribes. */
  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** Number of subscribers (diagnostics, tests). */
  get size(): number {
    return this.subscribers.size;
  }
}
