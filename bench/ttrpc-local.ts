/**
 * ttrpc-ts micro-benchmark, in process over a real unix socket: sequential call latency (p50/p99), throughput
 * with many calls in flight on one connection, and large payloads near the 4 MiB cap.
 *
 *   npx tsc -b && node dist/bench/ttrpc-local.js [--calls N]
 */
process.on('SIGUSR1', () => {
  process.report.writeReport();
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Server, type Codec } from 'ttrpc-ts';

const bytesCodec: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b };
const Bench = {
  name: 'bench.v1.Bench',
  methods: { echo: { name: 'Echo', requestType: bytesCodec, responseType: bytesCodec } },
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--calls');
  const calls = arg > 0 ? Number(process.argv[arg + 1]) : 20000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-bench-'));
  const socketPath = path.join(dir, 'bench.sock');
  const server = new Server().register(Bench, { echo: (req) => Promise.resolve(req) });
  await server.listen({ path: socketPath });
  const client = await Client.connect(socketPath);
  const echo = client.service(Bench).echo;
  try {
    const small = new Uint8Array(64);
    for (let i = 0; i < 1000; i++) await echo(small); // warm-up

    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await echo(small);
      lat.push(performance.now() - s);
    }
    const seqMs = performance.now() - t0;
    lat.sort((a, b) => a - b);
    console.log(
      `sequential  ${calls} calls, 64 B: ${Math.round((calls / seqMs) * 1000)} calls/s, p50 ${(percentile(lat, 50) * 1000).toFixed(0)} µs, p99 ${(percentile(lat, 99) * 1000).toFixed(0)} µs`,
    );

    const inFlight = 1000;
    const t1 = performance.now();
    for (let done = 0; done < calls; done += inFlight) {
      await Promise.all(Array.from({ length: Math.min(inFlight, calls - done) }, () => echo(small)));
    }
    const parMs = performance.now() - t1;
    console.log(`concurrent  ${calls} calls, ${inFlight} in flight: ${Math.round((calls / parMs) * 1000)} calls/s`);

    const big = new Uint8Array(4 * 1024 * 1024 - 64);
    const rounds = 50;
    const t2 = performance.now();
    for (let i = 0; i < rounds; i++) await echo(big);
    const bigMs = performance.now() - t2;
    console.log(`large       ${rounds} × ${(big.length / 1048576).toFixed(2)} MiB echoed: ${((rounds * 2 * big.length) / 1048576 / (bigMs / 1000)).toFixed(0)} MiB/s`);
    console.log(`memory      rss ${(process.memoryUsage().rss / 1048576).toFixed(1)} MiB`);
  } finally {
    await client.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
