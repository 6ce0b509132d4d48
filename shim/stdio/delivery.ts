/**
 * Waiting for a process's output in flight to reach its client (ProcessIO.inFlight), for the pipe
 * and the terminal IO alike: done once the copies are over and the client has read its FIFO empty;
 * given up once nothing moved for `idleMs` (the client stalled, or went away), or for `idleNoReaderMs`
 * when the client never read anything (there most likely is none), or after `maxMs`.
 *
 * A FIFO tells no one that it was read empty, so the wait polls — from 1 ms, doubling up to 10 ms —
 * and also wakes when the copies end. What the client has not read is counted with FIONREAD on our
 * keep-open reader of its FIFO.
 */
import { type Native } from '../../native';
import { type DeliveryLimits, type DeliveryOutcome } from './types';

const FIRST_LOOK_MS = 1;
const MAX_LOOK_MS = 10;

/** What a wait looks at. */
export interface Delivery {
  /** True once everything has reached the client. */
  delivered(): boolean;
  /** A value that changes whenever bytes move: copied, or read by the client. */
  progress(): string;
  /** Bytes the client has not read yet (reported when the wait gives up). */
  unread(): number;
  /** Bytes the client has read from its FIFO so far: 0 when it never read (or there is no FIFO). */
  clientRead(): number;
  /** Resolves when the copies are over (besides the polls, a wake-up). */
  copiesOver(): Promise<void>;
}

/** Undefined when nothing is in flight; else a promise that settles as the header says, with how it ended. Never rejects. */
export function awaitDelivery(d: Delivery, limits: DeliveryLimits): Promise<DeliveryOutcome> | undefined {
  if (d.delivered()) return undefined;
  return untilDelivered(d, limits);
}

async function untilDelivered(d: Delivery, limits: DeliveryLimits): Promise<DeliveryOutcome> {
  const start = Date.now();
  let seen = d.progress();
  let movedAt = start;
  // Once the copies are over only the timer may wake us: racing a settled promise would loop in
  // microtasks and starve the event loop (and with it the copies and the client, if in-process).
  let copiesOver = false;
  const over = d.copiesOver().then(
    () => void (copiesOver = true),
    () => void (copiesOver = true),
  );
  for (let look = FIRST_LOOK_MS; !d.delivered(); look = Math.min(look * 2, MAX_LOOK_MS)) {
    const now = Date.now();
    const idleFor = now - movedAt;
    // whether the client ever read (FIONREAD again) is asked only once the shorter limit is over
    const idle = idleFor >= Math.min(limits.idleMs, limits.idleNoReaderMs) && idleFor >= (d.clientRead() > 0 ? limits.idleMs : limits.idleNoReaderMs);
    const gaveUp = now - start >= limits.maxMs ? 'limit' : idle ? 'idle' : undefined;
    if (gaveUp) return { delivered: false, gaveUp, waitedMs: now - start, unread: d.unread(), clientRead: d.clientRead() };
    await timerOr(look, copiesOver ? undefined : over);
    const current = d.progress();
    if (current !== seen) {
      seen = current;
      movedAt = Date.now();
    }
  }
  return { delivered: true };
}

/** Resolves after `ms`, or when `wake` settles first. */
async function timerOr(ms: number, wake: Promise<void> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await (wake ? Promise.race([wake, elapsed]) : elapsed);
  clearTimeout(timer);
}

/** Bytes the client has not read from the FIFO behind `fd` (our keep-open reader); 0 when it cannot tell. */
export function unreadInFifo(native: Pick<Native, 'unreadBytes'>, fd: number | undefined): number {
  if (fd === undefined) return 0;
  try {
    return native.unreadBytes(fd);
  } catch {
    return 0; // cannot tell: hold nothing for it
  }
}
