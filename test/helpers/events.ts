/**
 * Watches containerd's events with `ctr events` (which decodes each event through its type
 * registry and silently skips unknown type URLs — so seeing an event proves its URL is right).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Containerd, cleanEnv } from './containerd';
import { waitFor } from './wait';

/** One line of `ctr events`: `<date> <time> <tz> <tz> <namespace> <topic> <json>`. */
export interface SeenEvent {
  namespace: string;
  topic: string;
  event: Record<string, unknown>;
}

/** A running `ctr events`. */
export class EventWatcher {
  readonly events: SeenEvent[] = [];
  private buffer = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const m = /^\S+ \S+ \S+ \S+ (\S+) (\S+) (.*)$/.exec(line);
        if (!m) continue;
        let event: Record<string, unknown> = {};
        try {
          event = JSON.parse(m[3] ?? '{}') as Record<string, unknown>;
        } catch {
          // not JSON: keep the topic
        }
        this.events.push({ namespace: m[1] ?? '', topic: m[2] ?? '', event });
      }
    });
  }

  /** Starts `ctr events` and waits until it is subscribed (a probe event arrives). */
  static async start(ct: Containerd): Promise<EventWatcher> {
    const child = spawn('ctr', ['--address', ct.address, 'events'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    const watcher = new EventWatcher(child);
    // a namespace label change publishes /namespaces/update: proof that the subscription is live
    const probe = `probe${Date.now()}`;
    await waitFor(
      async () => {
        await ct.ctr(['namespaces', 'label', ct.namespace, 'tsrunc.test', probe]);
        return watcher.events.some((e) => e.topic.startsWith('/namespaces/'));
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'ctr events to subscribe' },
    );
    return watcher;
  }

  /** Task events of one container, in arrival order. */
  forContainer(id: string): SeenEvent[] {
    return this.events.filter((e) => e.event['container_id'] === id);
  }

  /** Waits until `predicate` holds for the events seen. */
  async until(predicate: (events: SeenEvent[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => predicate(this.events), { timeoutMs, what });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
