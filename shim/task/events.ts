/**
 * The task events the shim publishes (PROTOCOL §8.2, §8.3), built from the domain objects and
 * queued in call order on the one event queue. Exec deletion publishes nothing; OOM events come
 * from the OOM watcher; `/tasks/checkpointed` is published (the Go shim never does).
 */
import { type Container } from '../container/container';
import { type BaseProcess } from '../process/base';
import { type Exit, nowNs } from '../reaper';
import { type EventQueue } from '../events/queue';
import { TOPICS, type TaskEventMap, type Topic, packEvent, toTimestamp } from '../../proto';
import { exitTime } from './responses';

/** Typed publishing of task events. */
export class TaskEvents {
  constructor(private readonly queue: EventQueue) {}

  private publish<T extends Topic>(topic: T, event: TaskEventMap[T]): void {
    const any = packEvent(topic, event);
    this.queue.publish(topic, any.typeUrl, any.value, nowNs());
  }

  create(c: Container, rootfs: TaskEventMap['/tasks/create']['rootfs'], checkpoint: string): void {
    const s = c.init.stdio;
    this.publish(TOPICS.TaskCreate, {
      containerId: c.id,
      bundle: c.bundle,
      rootfs,
      io: { stdin: s.stdin, stdout: s.stdout, stderr: s.stderr, terminal: s.terminal },
      checkpoint,
      pid: c.init.pid,
    });
  }

  start(c: Container): void {
    this.publish(TOPICS.TaskStart, { containerId: c.id, pid: c.init.pid });
  }

  exit(c: Container, p: BaseProcess, exit: Exit): void {
    this.publish(TOPICS.TaskExit, { containerId: c.id, id: p.id, pid: p.pid, exitStatus: exit.status, exitedAt: toTimestamp(exit.at) });
  }

  delete(c: Container): void {
    const p = c.init;
    this.publish(TOPICS.TaskDelete, { containerId: c.id, pid: p.pid, exitStatus: p.exitStatus, exitedAt: exitTime(p), id: '' });
  }

  execAdded(c: Container, execId: string): void {
    this.publish(TOPICS.TaskExecAdded, { containerId: c.id, execId });
  }

  execStarted(c: Container, p: BaseProcess): void {
    this.publish(TOPICS.TaskExecStarted, { containerId: c.id, execId: p.id, pid: p.pid });
  }

  paused(c: Container): void {
    this.publish(TOPICS.TaskPaused, { containerId: c.id });
  }

  resumed(c: Container): void {
    this.publish(TOPICS.TaskResumed, { containerId: c.id });
  }

  oom(containerId: string): void {
    this.publish(TOPICS.TaskOOM, { containerId });
  }

  checkpointed(c: Container, checkpoint: string): void {
    this.publish(TOPICS.TaskCheckpointed, { containerId: c.id, checkpoint });
  }
}
