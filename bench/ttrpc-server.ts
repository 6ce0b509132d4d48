/**
 * A trivial ttrpc server in its own process for `npm run bench:ttrpc`: containerd.task.v2.Task/State
 * only, answering every request with the same StateResponse (the shape a running container's State
 * has), so that our client↔our server compares with our client→a Go shim's State on equal terms.
 *
 *   node dist/bench/ttrpc-server.js SOCKET     (prints "ready" once listening; SIGTERM stops it)
 */
process.on('SIGUSR1', () => {
  process.stderr.write(`ttrpc-server: pid ${process.pid}, rss ${process.memoryUsage().rss}\n`);
});

import { Server } from 'ttrpc-ts';
import { TaskServiceDefinition } from '../proto';

const StateOnly = { name: TaskServiceDefinition.name, methods: { state: TaskServiceDefinition.methods.state } };

async function main(): Promise<void> {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error('usage: ttrpc-server.js SOCKET');
  const response = {
    id: 'bench',
    bundle: '/run/containerd/io.containerd.runtime.v2.task/bench/bench',
    pid: 4242,
    status: 2, // RUNNING
    stdin: '',
    stdout: '/run/containerd/fifo/123/bench-stdout',
    stderr: '/run/containerd/fifo/123/bench-stderr',
    terminal: false,
    exitStatus: 0,
    exitedAt: null,
    execId: '',
  };
  const server = new Server().register(StateOnly, { state: () => Promise.resolve(response) });
  await server.listen({ path: socketPath });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void server.close().then(() => process.exit(0)));
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`ttrpc-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
