/**
 * A seeded fuzzer for a LIVE shim's socket: generated and mutated ttrpc frames (bit flips, length
 * changes, truncation, insertion, duplicated tails, random types/flags/stream ids, random headers
 * and bytes) built from real Task API requests. Each connection gets a batch written in random-sized
 * chunks and then EOF; the connection must then close (no hang), every response must be a decodable
 * ttrpc.Response, and `check` runs between rounds to prove the shim still serves its container.
 *
 * Safety: the shim serves a real container. Seeds that name that container are read-only calls
 * (State, Connect, Wait of a missing exec) whose method names no mutation of ≤ 4 bit flips can turn
 * into a destructive one; everything else names a container that does not exist. Create is sent
 * only unmutated (with an invalid bundle): a mutated Create could name a real host directory.
 */
import { FrameType, encodeFrame } from 'ttrpc-ts';
import { OCI_PROCESS_TYPE_URL, packJson, task } from '../../proto';
import { RawPeer, TASK_SERVICE, encodeHeader, prng, requestFrame } from './raw-ttrpc';

interface Seed {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Never mutate (see the file comment). */
  fixed?: boolean;
}

function seeds(containerId: string): Seed[] {
  const t = (method: string, payload: { finish(): Uint8Array }): Seed => ({ service: TASK_SERVICE, method, payload: payload.finish() });
  const nope = 'fuzz-nope';
  return [
    t('State', task.StateRequest.encode({ id: containerId, execId: '' })),
    t('State', task.StateRequest.encode({ id: containerId, execId: 'fuzz-exec' })),
    t('State', task.StateRequest.encode({ id: nope, execId: '' })),
    t('Connect', task.ConnectRequest.encode({ id: containerId })),
    t('Wait', task.WaitRequest.encode({ id: containerId, execId: 'fuzz-exec' })),
    t('Kill', task.KillRequest.encode({ id: nope, execId: '', signal: 9, all: true })),
    t('Delete', task.DeleteRequest.encode({ id: nope, execId: '' })),
    t('Pids', task.PidsRequest.encode({ id: nope })),
    t('Stats', task.StatsRequest.encode({ id: nope })),
    t('Pause', task.PauseRequest.encode({ id: nope })),
    t('Resume', task.ResumeRequest.encode({ id: nope })),
    t('Shutdown', task.ShutdownRequest.encode({ id: nope, now: true })),
    t('CloseIO', task.CloseIORequest.encode({ id: nope, execId: '', stdin: true })),
    t('ResizePty', task.ResizePtyRequest.encode({ id: nope, execId: '', width: 80, height: 24 })),
    t('Update', task.UpdateTaskRequest.encode({ id: nope, resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from('{}') }, annotations: {} })),
    t('Exec', task.ExecProcessRequest.encode({ id: nope, execId: 'e', terminal: false, stdin: '', stdout: '', stderr: '', spec: packJson(OCI_PROCESS_TYPE_URL, { args: ['/bin/true'], cwd: '/' }) })),
    t('Checkpoint', task.CheckpointTaskRequest.encode({ id: nope, path: 'fuzz/relative', options: null })),
    t('Nope', task.StateRequest.encode({ id: containerId, execId: '' })),
    { service: 'containerd.task.v3.Task', method: 'State', payload: task.StateRequest.encode({ id: containerId, execId: '' }).finish() },
    { service: 'fuzz.Unknown', method: 'State', payload: task.StateRequest.encode({ id: containerId, execId: '' }).finish() },
    {
      service: TASK_SERVICE,
      method: 'Create',
      payload: task.CreateTaskRequest.encode({ id: 'fuzz-create', bundle: 'fuzz/not-absolute', rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: '', parentCheckpoint: '', options: null }).finish(),
      fixed: true,
    },
  ];
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** One mutation: 1–4 bit flips, truncation, insertion of 1–16 random bytes, or a duplicated tail. */
export function mutate(rand: () => number, input: Uint8Array): Buffer {
  const b = Buffer.from(input);
  if (b.length === 0) return randomBytes(rand, 1 + Math.floor(rand() * 8));
  const pick = rand();
  if (pick < 0.4) {
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(rand() * b.length);
      b[at] = (b[at] as number) ^ (1 << Math.floor(rand() * 8));
    }
    return b;
  }
  if (pick < 0.6) return b.subarray(0, Math.floor(rand() * b.length));
  if (pick < 0.8) {
    const at = Math.floor(rand() * (b.length + 1));
    return Buffer.concat([b.subarray(0, at), randomBytes(rand, 1 + Math.floor(rand() * 16)), b.subarray(at)]);
  }
  return Buffer.concat([b, b.subarray(Math.floor(rand() * b.length))]);
}

export interface FuzzOptions {
  socket: string;
  containerId: string;
  frames: number;
  seed: number;
  framesPerConnection?: number;
  /** Connections in flight at once. */
  parallel?: number;
  /** Runs after every `checkEvery` connections (and at the end): throw if the shim is unwell. */
  check?: (connectionsDone: number) => Promise<void>;
  checkEvery?: number;
}

export interface FuzzResult {
  frames: number;
  connections: number;
  responses: number;
  /** Responses by status code name (OK for no status). */
  codes: Record<string, number>;
  /** Longest time from a connection's EOF to its close by the shim (ms). */
  slowestCloseMs: number;
  /** Frames back that were not a decodable ttrpc.Response (must be 0). */
  undecodable: number;
  ms: number;
}

const CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE'];

/** Builds the bytes of one connection: `count` frames, framing intact or (30 %) chaotic. */
function connectionBytes(rand: () => number, all: Seed[], count: number): Buffer {
  const parts: Buffer[] = [];
  const chaos = rand() < 0.3;
  let id = 1;
  for (let i = 0; i < count; i++) {
    const seed = all[Math.floor(rand() * all.length)] as Seed;
    const timeoutNano = rand() < 0.1 ? BigInt(Math.floor(rand() * 2e7)) : 0n;
    const streamId = id;
    id += 2 * (1 + Math.floor(rand() * 3));
    const valid = requestFrame(streamId, seed.service, seed.method, seed.payload, { timeoutNano });
    const kind = rand();
    if (seed.fixed) {
      parts.push(valid);
    } else if (!chaos) {
      // framing intact, ids increasing: only the contents are hostile
      if (kind < 0.3) parts.push(valid);
      else if (kind < 0.5) parts.push(encodeFrame(streamId, FrameType.Request, mutate(rand, valid.subarray(10))));
      else if (kind < 0.7) parts.push(requestFrame(streamId, seed.service, seed.method, mutate(rand, seed.payload), { timeoutNano }));
      else if (kind < 0.82) parts.push(encodeFrame(streamId, Math.floor(rand() * 256), randomBytes(rand, Math.floor(rand() * 64)), Math.floor(rand() * 256)));
      else if (kind < 0.9) parts.push(encodeFrame(streamId, FrameType.Request, valid.subarray(10), 1 + Math.floor(rand() * 255)));
      else if (kind < 0.95) parts.push(encodeFrame(streamId + 1, FrameType.Request, valid.subarray(10)));
      else parts.push(encodeFrame(streamId, FrameType.Request, randomBytes(rand, Math.floor(rand() * 200))));
    } else if (kind < 0.35) parts.push(valid);
    else if (kind < 0.75) parts.push(mutate(rand, valid));
    else if (kind < 0.9) {
      const n = Math.floor(rand() * 64);
      // a random header: any length (up to 4 GiB), stream id, type and flags
      const length = rand() < 0.5 ? n : Math.floor(rand() * 2 ** 32);
      parts.push(encodeHeader({ length, streamId: Math.floor(rand() * 2 ** 32), type: Math.floor(rand() * 256), flags: Math.floor(rand() * 256) }), randomBytes(rand, n));
    } else parts.push(randomBytes(rand, Math.floor(rand() * 64)));
  }
  return Buffer.concat(parts);
}

async function runConnection(socket: string, bytes: Buffer, rand: () => number, result: FuzzResult): Promise<void> {
  const peer = new RawPeer(socket);
  try {
    await peer.connected();
  } catch (err) {
    throw new Error(`fuzz: cannot connect to the shim: ${(err as Error).message}`, { cause: err });
  }
  for (let at = 0; at < bytes.length && !peer.closed; ) {
    const n = 1 + Math.floor(rand() * 2048);
    await peer.writeFlushed(bytes.subarray(at, at + n));
    at += n;
  }
  peer.end();
  const eof = Date.now();
  try {
    await peer.waitClosed(15_000);
  } catch (err) {
    peer.destroy();
    throw new Error('fuzz: the shim kept a connection open 15 s after EOF (hang)', { cause: err });
  }
  result.slowestCloseMs = Math.max(result.slowestCloseMs, Date.now() - eof);
  result.responses += peer.frames.length;
  result.undecodable += peer.undecodable.length;
  for (const f of peer.frames) {
    const name = CODE_NAMES[f.status?.code ?? 0] ?? `CODE_${f.status?.code}`;
    result.codes[name] = (result.codes[name] ?? 0) + 1;
  }
}

/** Runs the fuzzer; resolves with what happened. */
export async function fuzzShim(options: FuzzOptions): Promise<FuzzResult> {
  const rand = prng(options.seed);
  const all = seeds(options.containerId);
  const perConnection = options.framesPerConnection ?? 100;
  const parallel = options.parallel ?? 4;
  const checkEvery = options.checkEvery ?? 50;
  const result: FuzzResult = { frames: 0, connections: 0, responses: 0, codes: {}, slowestCloseMs: 0, undecodable: 0, ms: 0 };
  const started = Date.now();
  while (result.frames < options.frames) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < parallel && result.frames < options.frames; i++) {
      const count = Math.min(perConnection, options.frames - result.frames);
      result.frames += count;
      result.connections++;
      const bytes = connectionBytes(rand, all, count);
      batch.push(runConnection(options.socket, bytes, prng(Math.floor(rand() * 2 ** 32)), result));
    }
    await Promise.all(batch);
    if (options.check && result.connections % checkEvery < parallel) await options.check(result.connections);
  }
  await options.check?.(result.connections);
  result.ms = Date.now() - started;
  return result;
}
