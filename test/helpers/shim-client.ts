/**
 * A ttrpc client to a shim's socket (ours or Go's) with the Task API stub, as `ctr shim` uses it:
 * no namespace metadata, no deadline unless asked.
 */
import { Client, type RpcError, isRpcError } from 'ttrpc-ts';
import { TaskServiceDefinition } from '../../proto';

/** The Task API stub over one connection. */
export type TaskClient = ReturnType<typeof taskStub>;

function taskStub(client: Client) {
  return client.service(TaskServiceDefinition);
}

/** A connected Task client; close it with `close()`. */
export async function connectTask(socketPath: string): Promise<{ task: TaskClient; client: Client; close: () => Promise<void> }> {
  const client = await Client.connect(socketPath, { timeout: 5000 });
  return { task: taskStub(client), client, close: () => client.close() };
}

/** Runs `fn` expecting an RpcError; returns it (fails the test when the call succeeds). */
export async function rpcError(fn: () => Promise<unknown>): Promise<RpcError> {
  try {
    await fn();
  } catch (err) {
    if (isRpcError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
