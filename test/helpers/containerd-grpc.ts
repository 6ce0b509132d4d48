/**
 * containerd's own gRPC Tasks API, for what `ctr` has no verb for: `Wait` on a task through
 * containerd (containerd.services.tasks.v1.Tasks/Wait, which containerd forwards to the shim).
 * The two messages are encoded by hand (WaitRequest {1 container_id, 2 exec_id}, WaitResponse
 * {1 exit_status uint32, 2 exited_at Timestamp}); the namespace travels as gRPC metadata.
 */
import * as grpc from '@grpc/grpc-js';
import { type Containerd } from './containerd';

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function stringField(field: number, value: string): Buffer {
  if (value === '') return Buffer.alloc(0);
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
}

/** Reads a varint at `pos`; returns [value, next position]. Values above 2^53 lose precision (never needed here). */
function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
}

export interface WaitResult {
  exitStatus: number;
  /** exited_at seconds (0 when absent). */
  exitedAtSeconds: number;
}

function decodeWaitResponse(buf: Buffer): WaitResult {
  const result: WaitResult = { exitStatus: 0, exitedAtSeconds: 0 };
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      let v: number;
      [v, pos] = readVarint(buf, pos);
      if (field === 1) result.exitStatus = v;
    } else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(buf, pos);
      const body = buf.subarray(pos, pos + len);
      pos += len;
      if (field === 2 && body.length > 0 && body[0] === 0x08) result.exitedAtSeconds = readVarint(body, 1)[0];
    } else {
      throw new Error(`unexpected wire type ${wire} in WaitResponse`);
    }
  }
  return result;
}

/** A gRPC client of one containerd; `close()` it. */
export class ContainerdApi {
  private readonly client: grpc.Client;

  constructor(private readonly ct: Containerd) {
    this.client = new grpc.Client(`unix://${ct.address}`, grpc.credentials.createInsecure());
  }

  /** Tasks/Wait: resolves with the exit status once the task (or exec) exits. */
  waitTask(containerId: string, execId = '', timeoutMs = 60_000): Promise<WaitResult> {
    const metadata = new grpc.Metadata();
    metadata.set('containerd-namespace', this.ct.namespace);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<{ containerId: string; execId: string }, WaitResult>(
        '/containerd.services.tasks.v1.Tasks/Wait',
        (r) => Buffer.concat([stringField(1, r.containerId), stringField(2, r.execId)]),
        decodeWaitResponse,
        { containerId, execId },
        metadata,
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) reject(err);
          else if (value) resolve(value);
          else reject(new Error('Wait returned no response'));
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
