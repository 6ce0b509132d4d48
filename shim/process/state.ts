/**
 * The process state machine, as data (STYLE B.3): the states, which verbs each state allows for an
 * init and for an exec process, the refusal (error kind and the Go shim's exact words, PROTOCOL
 * §7.18, §7.19) for every verb a state does not allow, and the transitions.
 *
 * Projections are explicit: a process that is `deleted` reports `stopped` (so does containerd's
 * view of it), `pausing` reports `pausing`, and an exec reports its container's `paused`/`pausing`
 * whatever its own state (as Go's execProcess.Status does).
 */

export type ProcessState = 'created' | 'createdCheckpoint' | 'running' | 'pausing' | 'paused' | 'stopped' | 'deleted';

export type Verb = 'start' | 'delete' | 'pause' | 'resume' | 'kill' | 'exec' | 'update' | 'checkpoint' | 'resize' | 'closeIO';

export type Role = 'init' | 'exec';

/** Error kinds a refusal uses (a subset of containerd's errdefs). */
export type RefusalKind = 'unknown' | 'notFound' | 'failedPrecondition';

/** Why a verb is refused in a state. */
export interface Refusal {
  kind: RefusalKind;
  message: string;
}

type Rule = true | Refusal;

const unknown = (message: string): Refusal => ({ kind: 'unknown', message });
const notFound = (message: string): Refusal => ({ kind: 'notFound', message });

const INIT: Record<ProcessState, Record<Verb, Rule>> = {
  created: {
    start: true,
    delete: true,
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    kill: true,
    exec: true,
    update: true,
    checkpoint: unknown('cannot checkpoint a task in created state'),
    resize: true,
    closeIO: true,
  },
  createdCheckpoint: {
    start: true,
    delete: true,
    pause: unknown('cannot pause task in created state'),
    resume: unknown('cannot resume task in created state'),
    kill: true,
    exec: unknown('cannot exec in a created state'),
    update: true,
    checkpoint: unknown('cannot checkpoint a task in created state'),
    resize: true,
    closeIO: true,
  },
  running: {
    start: unknown('cannot start a running process'),
    delete: unknown('cannot delete a running process'),
    pause: true,
    resume: unknown('cannot resume a running process'),
    kill: true,
    exec: true,
    update: true,
    checkpoint: true,
    resize: true,
    closeIO: true,
  },
  pausing: {
    start: unknown('cannot start a pausing process'),
    delete: unknown('cannot delete a pausing process'),
    pause: unknown('cannot pause a pausing container'),
    resume: unknown('cannot resume a pausing container'),
    kill: true,
    exec: unknown('cannot exec in a pausing state'),
    update: true,
    checkpoint: unknown('cannot checkpoint a pausing container'),
    resize: true,
    closeIO: true,
  },
  paused: {
    start: unknown('cannot start a paused process'),
    delete: unknown('cannot delete a paused process'),
    pause: unknown('cannot pause a paused container'),
    resume: true,
    kill: true,
    exec: unknown('cannot exec in a paused state'),
    update: true,
    checkpoint: true,
    resize: true,
    closeIO: true,
  },
  stopped: {
    start: unknown('cannot start a stopped process'),
    delete: true,
    pause: unknown('cannot pause a stopped container'),
    resume: unknown('cannot resume a stopped container'),
    kill: true, // runc decides: `kill --all` succeeds, a plain kill is NOT_FOUND "process already finished"
    exec: unknown('cannot exec in a stopped state'),
    update: unknown('cannot update a stopped container'),
    checkpoint: unknown('cannot checkpoint a stopped container'),
    resize: true, // Go's Init.Resize checks no state (an exec's does: see EXEC)
    closeIO: true,
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
    closeIO: unknown('cannot close the io of a deleted process'),
  },
};

/** An exec has no pause/resume/exec/update/checkpoint of its own: those are container verbs. */
const EXEC_ONLY_REFUSAL = unknown('not supported on an exec process');

const EXEC: Record<ProcessState, Record<Verb, Rule>> = {
  created: {
    ...INIT.created,
    kill: { kind: 'failedPrecondition', message: 'process not created' },
  },
  createdCheckpoint: { ...INIT.createdCheckpoint },
  running: { ...INIT.running },
  pausing: { ...INIT.pausing },
  paused: { ...INIT.paused },
  stopped: {
    ...INIT.stopped,
    kill: notFound('process already finished'),
    resize: unknown('cannot resize a stopped container'),
  },
  deleted: { ...INIT.deleted },
};
for (const state of Object.keys(EXEC) as ProcessState[]) {
  for (const verb of ['pause', 'resume', 'exec', 'update', 'checkpoint'] as const) EXEC[state][verb] = EXEC_ONLY_REFUSAL;
}

/** The refusal for `verb` on a `role` process in `state`, or undefined when it is allowed. */
export function refusal(role: Role, state: ProcessState, verb: Verb): Refusal | undefined {
  const rule = (role === 'init' ? INIT : EXEC)[state][verb];
  return rule === true ? undefined : rule;
}

/** True when `verb` is allowed. */
export function allows(role: Role, state: ProcessState, verb: Verb): boolean {
  return refusal(role, state, verb) === undefined;
}

/** Transitions: which state a successful verb or event leads to, from which states. */
export const TRANSITIONS = {
  start: { created: 'running', createdCheckpoint: 'running' },
  pauseBegin: { running: 'pausing' },
  pauseEnd: { pausing: 'paused' },
  pauseFailed: { pausing: 'running' },
  resume: { paused: 'running' },
  exit: { created: 'stopped', createdCheckpoint: 'stopped', running: 'stopped', pausing: 'stopped', paused: 'stopped' },
  delete: { created: 'deleted', createdCheckpoint: 'deleted', stopped: 'deleted' },
} as const satisfies Record<string, Partial<Record<ProcessState, ProcessState>>>;

export type Transition = keyof typeof TRANSITIONS;

/** The state after `transition` from `from`, or undefined when it does not apply. */
export function next(from: ProcessState, transition: Transition): ProcessState | undefined {
  return (TRANSITIONS[transition] as Partial<Record<ProcessState, ProcessState>>)[from];
}

/** containerd's status enum (containerd.v1.types.Status). */
export const Status = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4, PAUSING: 5 } as const;

/** What State reports for a process in `state`, given its container init's state (for execs). */
export function reportedStatus(role: Role, state: ProcessState, initState: ProcessState): number {
  // Go's execProcess.Status: while the container pauses or is paused, so are all its processes
  if (role === 'exec' && (initState === 'paused' || initState === 'pausing')) {
    return initState === 'paused' ? Status.PAUSED : Status.PAUSING;
  }
  switch (state) {
    case 'created':
    case 'createdCheckpoint':
      return Status.CREATED;
    case 'running':
      return Status.RUNNING;
    case 'pausing':
      return Status.PAUSING;
    case 'paused':
      return Status.PAUSED;
    case 'stopped':
    case 'deleted':
      return Status.STOPPED;
  }
}
