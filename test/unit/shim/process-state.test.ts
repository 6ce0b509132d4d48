/**
 * The process state machine as a matrix (STYLE B.3): every (role × state × verb) cell of
 * shim/process/state.ts against an expectation table written by hand from PROTOCOL §7.18/§7.19 and
 * the Go shim's own words (containerd 1.6 pkg/process init_state.go, exec_state.go,
 * deleted_state.go, exec.go `kill`) — not generated from state.ts. Where Go has no state check
 * (the `pausing` state, CloseIO, ResizePty of the init) the cell records the shim's documented
 * choice and says so.
 */
import assert from 'node:assert/strict';
import { ErrdefsError, Status as ProtoStatus } from '../../../proto';
import { refusalError } from '../../../shim/process/base';
import {
  type ProcessState,
  type RefusalKind,
  type Role,
  type Transition,
  type Verb,
  Status,
  TRANSITIONS,
  allows,
  next,
  refusal,
  reportedStatus,
} from '../../../shim/process/state';
import { FakeProcess } from './fakes';

const STATES: readonly ProcessState[] = ['created', 'createdCheckpoint', 'running', 'pausing', 'paused', 'stopped', 'deleted'];
const VERBS: readonly Verb[] = ['start', 'delete', 'pause', 'resume', 'kill', 'exec', 'update', 'checkpoint', 'resize', 'closeIO'];
const TRANSITION_NAMES: readonly Transition[] = ['start', 'pauseBegin', 'pauseEnd', 'pauseFailed', 'resume', 'exit', 'delete'];

type Expect = 'ok' | { kind: RefusalKind; message: string };
const OK = 'ok' as const;
const unknown = (message: string): Expect => ({ kind: 'unknown', message });
const notFound = (message: string): Expect => ({ kind: 'notFound', message });
const precondition = (message: string): Expect => ({ kind: 'failedPrecondition', message });

/** Init process (Go init_state.go, deleted_state.go; PROTOCOL §7.18 table, §7.19 catalogue). */
const INIT: Record<ProcessState, Record<Verb, Expect>> = {
  created: {
    start: OK,
    delete: OK,
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    kill: OK,
    exec: OK,
    update: OK,
    checkpoint: unknown('cannot checkpoint a task in created state'),
    resize: OK,
    closeIO: OK,
  },
  // created for a restore: Start runs `runc restore`; Exec is refused (Go createdCheckpointState)
  createdCheckpoint: {
    start: OK,
    delete: OK,
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    kill: OK,
    exec: unknown('cannot exec in a created state'),
    update: OK,
    checkpoint: unknown('cannot checkpoint a task in created state'),
    resize: OK,
    closeIO: OK,
  },
  running: {
    start: unknown('cannot start a running process'),
    delete: unknown('cannot delete a running process'),
    pause: OK,
    resume: unknown('cannot resume a running process'),
    kill: OK,
    exec: OK,
    update: OK,
    checkpoint: OK,
    resize: OK,
    closeIO: OK,
  },
  // shim's own state while `runc pause` runs (Go holds the process mutex instead): the verbs that
  // do not queue behind the pause answer in the paused words
  pausing: {
    start: unknown('cannot start a pausing process'),
    delete: unknown('cannot delete a pausing process'),
    pause: unknown('cannot pause a pausing container'),
    resume: unknown('cannot resume a pausing container'),
    kill: OK,
    exec: unknown('cannot exec in a pausing state'),
    update: OK,
    checkpoint: unknown('cannot checkpoint a pausing container'),
    resize: OK,
    closeIO: OK,
  },
  paused: {
    start: unknown('cannot start a paused process'),
    delete: unknown('cannot delete a paused process'),
    pause: unknown('cannot pause a paused container'),
    resume: OK,
    kill: OK,
    exec: unknown('cannot exec in a paused state'),
    update: OK,
    checkpoint: OK,
    resize: OK,
    closeIO: OK,
  },
  stopped: {
    start: unknown('cannot start a stopped process'),
    delete: OK,
    pause: unknown('cannot pause a stopped container'),
    resume: unknown('cannot resume a stopped container'),
    kill: OK, // runc decides (§7.18: `runc kill` → NOT_FOUND; `kill --all` succeeds)
    exec: unknown('cannot exec in a stopped state'),
    update: unknown('cannot update a stopped container'),
    checkpoint: unknown('cannot checkpoint a stopped container'),
    resize: OK, // Go's Init.Resize checks no state (an exec's does)
    closeIO: OK,
  },
  deleted: {
    start: unknown('cannot start a deleted process'),
    delete: notFound('cannot delete a deleted process'),
    pause: unknown('cannot pause a deleted process'),
    resume: unknown('cannot resume a deleted process'),
    kill: notFound('cannot kill a deleted process'),
    exec: unknown('cannot exec in a deleted state'),
    update: unknown('cannot update a deleted process'),
    checkpoint: unknown('cannot checkpoint a deleted process'),
    resize: unknown('cannot resize a deleted process'),
    closeIO: unknown('cannot close the io of a deleted process'), // shim choice
  },
};

/** An exec has no container verbs of its own: the RPCs route them to the init. */
const NOT_ON_EXEC = unknown('not supported on an exec process');
const CONTAINER_VERBS: readonly Verb[] = ['pause', 'resume', 'exec', 'update', 'checkpoint'];

/** The states an exec can be in (it starts created; start, exit and delete move it). */
const EXEC_STATES: readonly ProcessState[] = ['created', 'running', 'stopped', 'deleted'];

/** Exec process (Go exec_state.go, exec.go `kill`, deleted_state.go; PROTOCOL §7.18, §7.19). */
const EXEC: Record<'created' | 'running' | 'stopped' | 'deleted', Partial<Record<Verb, Expect>>> = {
  created: { start: OK, delete: OK, kill: precondition('process not created'), resize: OK, closeIO: OK },
  running: { start: unknown('cannot start a running process'), delete: unknown('cannot delete a running process'), kill: OK, resize: OK, closeIO: OK },
  stopped: { start: unknown('cannot start a stopped process'), delete: OK, kill: notFound('process already finished'), resize: unknown('cannot resize a stopped container'), closeIO: OK },
  deleted: {
    start: unknown('cannot start a deleted process'),
    delete: notFound('cannot delete a deleted process'),
    kill: notFound('cannot kill a deleted process'),
    resize: unknown('cannot resize a deleted process'),
    closeIO: unknown('cannot close the io of a deleted process'),
  },
};

function expectation(role: Role, state: ProcessState, verb: Verb): Expect {
  if (role === 'init') return INIT[state][verb];
  if (CONTAINER_VERBS.includes(verb)) return NOT_ON_EXEC;
  const e = EXEC[state as keyof typeof EXEC][verb];
  if (e === undefined) throw new Error(`no expectation for exec ${state} ${verb}`);
  return e;
}

describe('shim/process/state: the verb matrix', () => {
  for (const role of ['init', 'exec'] as const) {
    const states = role === 'init' ? STATES : EXEC_STATES;
    for (const state of states) {
      for (const verb of VERBS) {
        const expected = expectation(role, state, verb);
        const name = `${role} ${state} ${verb}`;
        it(`${name}: ${expected === OK ? 'allowed' : `refused (${expected.kind}) "${expected.message}"`}`, () => {
          const r = refusal(role, state, verb);
          if (expected === OK) {
            assert.equal(r, undefined);
            assert.equal(allows(role, state, verb), true);
          } else {
            assert.deepEqual(r, expected);
            assert.equal(allows(role, state, verb), false);
          }
        });
      }
    }
  }

  it('refuses every container verb on an exec in any state, even states an exec never reaches', () => {
    for (const state of STATES) for (const verb of CONTAINER_VERBS) assert.deepEqual(refusal('exec', state, verb), NOT_ON_EXEC, `exec ${state} ${verb}`);
  });

  it('leaves an exec only the states created, running, stopped and deleted', () => {
    const reached = new Set<ProcessState>(['created']);
    for (let grew = true; grew; ) {
      grew = false;
      for (const from of [...reached]) {
        for (const t of ['start', 'exit', 'delete'] as const) {
          const to = next(from, t);
          if (to !== undefined && !reached.has(to)) {
            reached.add(to);
            grew = true;
          }
        }
      }
    }
    assert.deepEqual([...reached].sort(), [...EXEC_STATES].sort());
  });
});

describe('shim/process/state: refusals on the wire (PROTOCOL §7.19)', () => {
  const rows: [string, Role, ProcessState, Verb, number, string][] = [
    ['Exec, container paused', 'init', 'paused', 'exec', 2, 'cannot exec in a paused state'],
    ['Kill, exec not started', 'exec', 'created', 'kill', 9, 'process not created: failed precondition'],
    ['Kill, exec exited', 'exec', 'stopped', 'kill', 5, 'process already finished: not found'],
    ['Start, already running', 'init', 'running', 'start', 2, 'cannot start a running process'],
    ['Start, exec already running', 'exec', 'running', 'start', 2, 'cannot start a running process'],
    ['Delete, init running', 'init', 'running', 'delete', 2, 'cannot delete a running process'],
    ['Delete, exec running', 'exec', 'running', 'delete', 2, 'cannot delete a running process'],
    ['ResizePty, exec exited', 'exec', 'stopped', 'resize', 2, 'cannot resize a stopped container'],
    ['Pause, already paused', 'init', 'paused', 'pause', 2, 'cannot pause a paused container'],
    ['Resume, running', 'init', 'running', 'resume', 2, 'cannot resume a running process'],
    ['Kill, deleted (Go deleted_state.go)', 'init', 'deleted', 'kill', 5, 'cannot kill a deleted process: not found'],
  ];
  for (const [situation, role, state, verb, code, message] of rows) {
    it(`${situation} → ${code} "${message}"`, () => {
      const r = refusal(role, state, verb);
      assert.ok(r, 'refused');
      const err = refusalError(r);
      assert.ok(err instanceof ErrdefsError);
      assert.deepEqual(err.toStatus(), { code, message });
    });
  }
});

describe('shim/process/state: transitions', () => {
  /** Hand-written: from → to for each transition; every other state must not move. */
  const EXPECTED: Record<Transition, Partial<Record<ProcessState, ProcessState>>> = {
    start: { created: 'running', createdCheckpoint: 'running' },
    pauseBegin: { running: 'pausing' },
    pauseEnd: { pausing: 'paused' },
    pauseFailed: { pausing: 'running' },
    resume: { paused: 'running' },
    exit: { created: 'stopped', createdCheckpoint: 'stopped', running: 'stopped', pausing: 'stopped', paused: 'stopped' },
    delete: { created: 'deleted', createdCheckpoint: 'deleted', stopped: 'deleted' },
  };

  for (const t of TRANSITION_NAMES) {
    for (const from of STATES) {
      const to = EXPECTED[t][from];
      it(`${t} from ${from} ${to === undefined ? 'does not apply' : `→ ${to}`}`, () => {
        assert.equal(next(from, t), to);
      });
    }
  }

  it('has no transition the expectation does not know', () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...TRANSITION_NAMES].sort());
  });

  it('never leaves stopped except by delete, and never leaves deleted', () => {
    for (const t of TRANSITION_NAMES) {
      assert.equal(next('deleted', t), undefined, `deleted ${t}`);
      if (t !== 'delete') assert.equal(next('stopped', t), undefined, `stopped ${t}`);
    }
  });

  it('agrees with the verb table: a verb is allowed exactly where its transition applies (init)', () => {
    const pairs: [Verb, Transition][] = [
      ['start', 'start'],
      ['delete', 'delete'],
      ['pause', 'pauseBegin'],
      ['resume', 'resume'],
    ];
    for (const [verb, t] of pairs) {
      for (const state of STATES) assert.equal(allows('init', state, verb), next(state, t) !== undefined, `${verb} in ${state}`);
    }
  });
});

describe('shim/process/state: reported status', () => {
  it('uses containerd.v1.types.Status numbering', () => {
    assert.deepEqual(Status, {
      UNKNOWN: ProtoStatus.UNKNOWN,
      CREATED: ProtoStatus.CREATED,
      RUNNING: ProtoStatus.RUNNING,
      STOPPED: ProtoStatus.STOPPED,
      PAUSED: ProtoStatus.PAUSED,
      PAUSING: ProtoStatus.PAUSING,
    });
    assert.deepEqual([Status.UNKNOWN, Status.CREATED, Status.RUNNING, Status.STOPPED, Status.PAUSED, Status.PAUSING], [0, 1, 2, 3, 4, 5]);
  });

  const OWN: Record<ProcessState, number> = { created: 1, createdCheckpoint: 1, running: 2, pausing: 5, paused: 4, stopped: 3, deleted: 3 };

  it('reports an init by its own state; deleted reports stopped', () => {
    for (const state of STATES) for (const initState of STATES) assert.equal(reportedStatus('init', state, initState), OWN[state], `init ${state}`);
    assert.equal(reportedStatus('init', 'deleted', 'deleted'), Status.STOPPED);
  });

  it('reports a created or running exec as paused/pausing while its container is', () => {
    for (const state of ['created', 'running'] as const) {
      assert.equal(reportedStatus('exec', state, 'paused'), Status.PAUSED, `${state} exec, paused init`);
      assert.equal(reportedStatus('exec', state, 'pausing'), Status.PAUSING, `${state} exec, pausing init`);
    }
  });

  it('reports an exec by its own state while the init is not paused', () => {
    for (const initState of ['created', 'running', 'stopped'] as const) {
      for (const state of EXEC_STATES) assert.equal(reportedStatus('exec', state, initState), OWN[state], `exec ${state} under ${initState}`);
    }
  });

  it('reports even a stopped exec as paused/pausing while its container is (Go: execProcess.Status)', () => {
    assert.equal(reportedStatus('exec', 'stopped', 'paused'), Status.PAUSED);
    assert.equal(reportedStatus('exec', 'deleted', 'pausing'), Status.PAUSING);
  });
});

describe('shim/process/base: the table applied to a process', () => {
  it('check throws the refusal as an ErrdefsError of its kind', () => {
    const p = new FakeProcess('c1', 'init').move('start');
    assert.throws(
      () => p.check('start'),
      (err: unknown) => err instanceof ErrdefsError && err.kind === 'unknown' && err.detail === 'cannot start a running process',
    );
    p.check('pause'); // allowed: does not throw
  });

  it('a transition that does not apply is reported as an internal error and does not move', () => {
    const p = new FakeProcess('c1', 'init');
    assert.throws(() => p.move('resume'), /internal: resume does not apply to a created process/);
    assert.equal(p.state, 'created');
  });

  it('setExited applies once: stopped, waiters resolved, later exits ignored', async () => {
    const p = new FakeProcess('c1', 'init').move('start');
    const waiting = p.wait();
    assert.equal(p.exitedAt, undefined);
    assert.equal(p.setExited({ pid: 7, status: 3, at: 11n }), true);
    assert.equal(p.setExited({ pid: 7, status: 9, at: 12n }), false);
    assert.equal(p.state, 'stopped');
    assert.deepEqual(await waiting, { pid: 7, status: 3, at: 11n });
    assert.equal(p.exitStatus, 3);
    assert.equal(p.exitedAt, 11n);
  });

  it('an exit of a paused process stops it', () => {
    const p = new FakeProcess('c1', 'init').move('start', 'pauseBegin', 'pauseEnd');
    p.setExited({ pid: 7, status: 137, at: 1n });
    assert.equal(p.state, 'stopped');
  });

  it('an exit recorded after delete does not resurrect the process', () => {
    const p = new FakeProcess('e1', 'exec').move('delete');
    assert.equal(p.setExited({ pid: 7, status: 1, at: 1n }), true);
    assert.equal(p.state, 'deleted');
  });

  it('failedToStart releases waiters with status 0 and no exit time, keeping the state', async () => {
    const p = new FakeProcess('e1', 'exec');
    p.failedToStart();
    assert.deepEqual(await p.wait(), { pid: 0, status: 0, at: 0n });
    assert.equal(p.state, 'created');
    p.check('delete'); // can still be deleted
  });
});
