import assert from 'node:assert/strict';
import { recoveryAction } from '../../../supervisor/shims/recover';
import { CONTAINER_STATUSES, type ContainerRecord, type ContainerStatus } from '../../../supervisor/store/types';

function rec(status: ContainerStatus, withShim: boolean, autoRemove = false): ContainerRecord {
  return {
    schema: 1,
    id: 'a1',
    name: 'n',
    namespace: 'ns',
    runtime: 'r',
    runtimeBinary: '/r',
    bundle: '/b',
    rootfs: '/rootfs',
    args: ['x'],
    env: [],
    cwd: '',
    labels: {},
    createdAt: '',
    autoRemove,
    restartPolicy: { name: 'no', maxRetries: 0 },
    logDir: '/l',
    logConfig: { maxSize: 1, maxFiles: 1 },
    status,
    pid: 1,
    revision: 0,
    ...(withShim ? { shim: { address: 'unix:///s', version: 2 as const, protocol: 'ttrpc' as const, binary: '/r' } } : {}),
  };
}

describe('supervisor/shims/recover: what a restarted daemon does with each record', () => {
  it('decides every (status, shim recorded, auto-remove) cell', () => {
    const table: Record<ContainerStatus, [string, string, string, string]> = {
      //            no shim        shim           no shim + rm   shim + rm
      creating: ['undo-create', 'undo-create', 'undo-create', 'undo-create'],
      created: ['lost', 'reattach', 'lost', 'reattach'],
      running: ['lost', 'reattach', 'lost', 'reattach'],
      stopped: ['none', 'finish-task', 'remove', 'finish-task'],
      removing: ['remove', 'remove', 'remove', 'remove'],
    };
    for (const status of CONTAINER_STATUSES) {
      const got = [rec(status, false), rec(status, true), rec(status, false, true), rec(status, true, true)].map(recoveryAction);
      assert.deepEqual(got, table[status], status);
    }
  });
});
