/**
 * Task events: topic ↔ message type ↔ Any type URL (PROTOCOL §8.2), and packing an event for an
 * Envelope. containerd's type URLs are the bare proto full names (`containerd.events.TaskExit`);
 * `ctr events` silently drops events whose URL it does not know, so these must be exact.
 */
import { containerd, type google } from './gen/shim';
import type { StaticMessage } from './message';

/** Topic of every task event, by message name. */
export const TOPICS = {
  TaskCreate: '/tasks/create',
  TaskStart: '/tasks/start',
  TaskDelete: '/tasks/delete',
  TaskExit: '/tasks/exit',
  TaskOOM: '/tasks/oom',
  TaskExecAdded: '/tasks/exec-added',
  TaskExecStarted: '/tasks/exec-started',
  TaskPaused: '/tasks/paused',
  TaskResumed: '/tasks/resumed',
  TaskCheckpointed: '/tasks/checkpointed',
} as const;

/** A task event's message name (`TaskExit`). */
export type TaskEventName = keyof typeof TOPICS;
/** A task event topic (`/tasks/exit`). */
export type Topic = (typeof TOPICS)[TaskEventName];

/** The event message carried on each topic. */
export interface TaskEventMap {
  '/tasks/create': containerd.events.TaskCreate;
  '/tasks/start': containerd.events.TaskStart;
  '/tasks/delete': containerd.events.TaskDelete;
  '/tasks/exit': containerd.events.TaskExit;
  '/tasks/oom': containerd.events.TaskOOM;
  '/tasks/exec-added': containerd.events.TaskExecAdded;
  '/tasks/exec-started': containerd.events.TaskExecStarted;
  '/tasks/paused': containerd.events.TaskPaused;
  '/tasks/resumed': containerd.events.TaskResumed;
  '/tasks/checkpointed': containerd.events.TaskCheckpointed;
}

/** What packEvent takes per topic: the event's `$Properties` (fields left out encode as zero). */
export interface TaskEventInitMap {
  '/tasks/create': containerd.events.TaskCreate.$Properties;
  '/tasks/start': containerd.events.TaskStart.$Properties;
  '/tasks/delete': containerd.events.TaskDelete.$Properties;
  '/tasks/exit': containerd.events.TaskExit.$Properties;
  '/tasks/oom': containerd.events.TaskOOM.$Properties;
  '/tasks/exec-added': containerd.events.TaskExecAdded.$Properties;
  '/tasks/exec-started': containerd.events.TaskExecStarted.$Properties;
  '/tasks/paused': containerd.events.TaskPaused.$Properties;
  '/tasks/resumed': containerd.events.TaskResumed.$Properties;
  '/tasks/checkpointed': containerd.events.TaskCheckpointed.$Properties;
}

/** One task event kind: message name, topic, Any type URL and static class. */
export interface TaskEventInfo<T extends Topic = Topic> {
  readonly name: TaskEventName;
  readonly topic: T;
  readonly typeUrl: string;
  readonly type: StaticMessage<TaskEventMap[T]>;
}

function info<T extends Topic>(name: TaskEventName, topic: T, type: StaticMessage<TaskEventMap[T]>): TaskEventInfo<T> {
  return { name, topic, typeUrl: `containerd.events.${name}`, type };
}

const ev = containerd.events;

/** Every task event, in the order of PROTOCOL §8.2. */
export const TASK_EVENTS: readonly TaskEventInfo[] = [
  info('TaskCreate', TOPICS.TaskCreate, ev.TaskCreate),
  info('TaskStart', TOPICS.TaskStart, ev.TaskStart),
  info('TaskExit', TOPICS.TaskExit, ev.TaskExit),
  info('TaskDelete', TOPICS.TaskDelete, ev.TaskDelete),
  info('TaskOOM', TOPICS.TaskOOM, ev.TaskOOM),
  info('TaskExecAdded', TOPICS.TaskExecAdded, ev.TaskExecAdded),
  info('TaskExecStarted', TOPICS.TaskExecStarted, ev.TaskExecStarted),
  info('TaskPaused', TOPICS.TaskPaused, ev.TaskPaused),
  info('TaskResumed', TOPICS.TaskResumed, ev.TaskResumed),
  info('TaskCheckpointed', TOPICS.TaskCheckpointed, ev.TaskCheckpointed),
];

const BY_TOPIC = new Map<string, TaskEventInfo>(TASK_EVENTS.map((e) => [e.topic, e]));
const BY_TYPE_URL = new Map<string, TaskEventInfo>(TASK_EVENTS.map((e) => [e.typeUrl, e]));

/** The event kind published on `topic`, if it is a task topic. */
export function eventByTopic(topic: string): TaskEventInfo | undefined {
  return BY_TOPIC.get(topic);
}

/** The event kind with Any type URL `typeUrl`, if it is a task event. */
export function eventByTypeUrl(typeUrl: string): TaskEventInfo | undefined {
  return BY_TYPE_URL.get(typeUrl);
}

/** Whether `topic` is one of the task topics. */
export function isTaskTopic(topic: string): topic is Topic {
  return BY_TOPIC.has(topic);
}

/**
 * The Any for an Envelope's `event`: `{ typeUrl: 'containerd.events.<Name>', value: <encoded event> }`.
 * Fields left out encode as their zero value.
 */
export function packEvent<T extends Topic>(topic: T, event: TaskEventInitMap[T]): google.protobuf.Any {
  const e = BY_TOPIC.get(topic) as TaskEventInfo<T> | undefined;
  if (e === undefined) throw new TypeError(`packEvent: ${topic} is not a task topic`);
  // encode reads only the fields present, so a partial event is fine.
  return { typeUrl: e.typeUrl, value: e.type.encode(event as TaskEventMap[T]).finish() };
}

/** A decoded task event with its topic. */
export type TaskEvent = { [T in Topic]: { readonly topic: T; readonly event: TaskEventMap[T] } }[Topic];

/**
 * Decodes an Envelope's `event` Any by its type URL. When `topic` is given it must be the topic of
 * that type. Throws a TypeError for a URL that is not a task event.
 */
export function unpackEvent(any: google.protobuf.Any.$Properties, topic?: string): TaskEvent {
  const url = any.typeUrl ?? '';
  const e = BY_TYPE_URL.get(url);
  if (e === undefined) throw new TypeError(`unpackEvent: ${JSON.stringify(url)} is not a task event type`);
  if (topic !== undefined && topic !== e.topic) {
    throw new TypeError(`unpackEvent: ${url} is published on ${e.topic}, not ${topic}`);
  }
  return { topic: e.topic, event: e.type.decode(any.value ?? new Uint8Array(0)) } as TaskEvent;
}
