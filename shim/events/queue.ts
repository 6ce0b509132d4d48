/**
 * The ordered outbound event queue. `publish` never blocks and never fails the caller: events are
 * stamped and queued synchronously (so their order is the order of the calls that caused them)
 * and one sender loop forwards them one at a time, in order. The loop starts once the callbacks
 * of this turn of the event loop have run (setImmediate): the answer of the call that caused an
 * event leaves first, as with Go's shim, whose forwarder runs beside its handlers — a client
 * waiting on that answer does not wait for the event's write as well.
 *
 * Failures: the sender itself reconnects once and retries at once (publisher.ts); if that fails too
 * the head event is retried after 1 s, 2 s, … (capped at 5 s), keeping the order — unlike the Go
 * shim, which re-queues at the tail and drops an event after six retries. An event containerd
 * refuses as invalid is dropped and reported (retrying cannot fix it); one it answers with another
 * error (it is up, and failed this event) is dropped after `maxAnsweredAttempts`, so that one
 * event cannot hold back every later one, a TaskExit included. While containerd cannot be reached
 * the head is retried until it can (it restarts; the events wait for it). The queue is bounded: past
 * `maxQueued` the oldest event is dropped and reported, so a containerd that never comes back
 * cannot grow the shim without limit.
 *
 * `drain` waits (bounded) until everything queued has been sent: shutdown calls it before exit.
 */

/** One event on its way to containerd. */
export interface OutgoingEvent {
  topic: string;
  /** Any type URL, e.g. `containerd.events.TaskExit`. */
  typeUrl: string;
  value: Uint8Array;
  /** Publish time, ns since the epoch. */
  timestamp: bigint;
}

/** Sends one event; rejects when it could not be delivered. */
export type EventSender = (event: OutgoingEvent) => Promise<void>;

export interface EventQueueOptions {
  send: EventSender;
  /** True for errors retrying cannot fix (containerd answered InvalidArgument). */
  isPermanent?: (err: unknown) => boolean;
  /** True for the other errors containerd answered (it was reached): retried, but not for ever. */
  isAnswered?: (err: unknown) => boolean;
  /** Attempts at one event that containerd answers with an error before it is dropped (default 5). */
  maxAnsweredAttempts?: number;
  /** Reports a dropped event. */
  onDrop?: (event: OutgoingEvent, why: string) => void;
  maxQueued?: number;
  /** Delay before the n-th retry (n ≥ 1). */
  backoffMs?: (attempt: number) => number;
  now?: () => bigint;
}

/** Ordered, non-blocking event queue with one sender. */
export class EventQueue {
  private readonly queue: OutgoingEvent[] = [];
  private sending = false;
  /** The loop is due (setImmediate) and has not started yet. */
  private due: NodeJS.Immediate | undefined;
  /** The head event is on the wire (not merely waiting out a backoff). */
  private inFlight = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private idleWaiters: ((sent: boolean) => void)[] = [];
  private readonly maxQueued: number;
  private readonly backoff: (attempt: number) => number;
  private readonly maxAnswered: number;

  constructor(private readonly options: EventQueueOptions) {
    this.maxQueued = options.maxQueued ?? 4096;
    this.maxAnswered = options.maxAnsweredAttempts ?? 5;
    this.backoff = options.backoffMs ?? ((n) => Math.min(n, 5) * 1000);
  }

  /** Queues an event (stamped now) and returns at once. */
  publish(topic: string, typeUrl: string, value: Uint8Array, timestamp: bigint): void {
    if (this.closed) {
      this.options.onDrop?.({ topic, typeUrl, value, timestamp }, 'the event queue is closed');
      return;
    }
    this.queue.push({ topic, typeUrl, value, timestamp });
    if (this.queue.length > this.maxQueued) {
      // the head may be on the wire right now: then drop the oldest event that is not
      const [dropped] = this.queue.splice(this.inFlight ? 1 : 0, 1);
      if (dropped) this.options.onDrop?.(dropped, `more than ${this.maxQueued} events waiting`);
    }
    if (!this.sending && !this.due) {
      this.due = setImmediate(() => {
        this.due = undefined;
        if (!this.sending) void this.loop();
      });
    }
  }

  /** Events waiting (including one being sent). */
  get pending(): number {
    return this.queue.length;
  }

  private async loop(): Promise<void> {
    this.sending = true;
    let attempt = 0;
    /** Errors containerd answered for `answeredFor` so far (the head may change under a backoff: the bound). */
    let answered = 0;
    let answeredFor: OutgoingEvent | undefined;
    const dropHead = (head: OutgoingEvent, why: string): void => {
      if (this.queue[0] === head) this.queue.shift();
      this.options.onDrop?.(head, why);
      attempt = 0;
    };
    while (!this.closed && this.queue.length > 0) {
      const head = this.queue[0];
      if (!head) break;
      try {
        this.inFlight = true;
        await this.options.send(head);
        this.inFlight = false;
        if (this.queue[0] === head) this.queue.shift();
        attempt = 0;
      } catch (err) {
        this.inFlight = false;
        // closed while this send was in flight: close reported it dropped; no backoff to wait out
        if (this.closed) break;
        if (this.options.isPermanent?.(err)) {
          dropHead(head, `containerd refused it: ${(err as Error).message}`);
          continue;
        }
        if (this.options.isAnswered?.(err)) {
          if (answeredFor !== head) {
            answeredFor = head;
            answered = 0;
          }
          if (++answered >= this.maxAnswered) {
            dropHead(head, `containerd failed it ${answered} times: ${(err as Error).message}`);
            continue;
          }
        }
        attempt++;
        await this.sleep(this.backoff(attempt));
      }
    }
    this.sending = false;
    if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w(true);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /**
   * Resolves true once every queued event has been sent, false if `timeoutMs` passed first. A
   * pending retry is tried at once: shutdown should not sit out a backoff.
   */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0) return Promise.resolve(true);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.wakeRetry?.();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push((sent) => {
        clearTimeout(timer);
        resolve(sent);
      });
    });
  }

  /** Stops sending; what is still queued is dropped (reported). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.due) clearImmediate(this.due);
    this.due = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.wakeRetry?.();
    const dropped = this.queue.splice(0);
    for (const event of dropped) this.options.onDrop?.(event, 'the shim is shutting down');
    for (const w of this.idleWaiters.splice(0)) w(dropped.length === 0);
  }
}
