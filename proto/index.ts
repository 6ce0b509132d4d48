/**
 * The contract: generated messages and services of the shim's wire protocols, and the hand-written
 * helpers around them. Importing this loads gen/shim.js (protobufjs/minimal + ~300 KB of codecs);
 * cgroup metrics load on first use (metrics.ts). Short-lived entry points that must not load
 * protobufjs import the light modules directly: errdefs.ts, names.ts.
 */
import { containerd, google, runtimeoptions } from './gen/shim';

// ── generated messages, one alias per proto package (each a namespace of classes, types and enums)
/** `containerd.task.v2`: the Task API requests and responses. */
export import task = containerd.task.v2;
/** `containerd.types`: Mount. */
export import types = containerd.types;
/** `containerd.v1.types`: Status, ProcessInfo, Process. */
export import taskTypes = containerd.v1.types;
/** `containerd.events`: the task events (TaskCreate, TaskExit, …) and TaskIO. */
export import events = containerd.events;
/** `containerd.services.events.ttrpc.v1`: ForwardRequest and Envelope of the events service. */
export import eventsApi = containerd.services.events.ttrpc.v1;
/** `containerd.runc.v1`: runtime Options, CheckpointOptions, ProcessDetails. */
export import runcOptions = containerd.runc.v1;
/** `containerd.linux.runc`: the legacy runctypes CreateOptions, RuncOptions, CheckpointOptions. */
export import runctypes = containerd.linux.runc;
/** `runtimeoptions.v1`: Options {typeUrl, configPath}. */
export import runtimeOptions = runtimeoptions.v1;
/** `google.rpc`: Status. */
export import rpc = google.rpc;
/** `google.protobuf`: Any, Empty, Timestamp. */
export import wellKnown = google.protobuf;
/** `containerd.v1.types.Status`: the process status enum (UNKNOWN, CREATED, RUNNING, STOPPED, PAUSED, PAUSING). */
export import Status = containerd.v1.types.Status;

// ── services
export {
  TaskServiceDefinition,
  EventsServiceDefinition,
  type TaskService,
  type EventsService,
  type TaskServiceMethods,
  type EventsServiceMethods,
} from './gen/services';
export { TASK_SERVICE_V2, TASK_SERVICE_V3, EVENTS_SERVICE } from './names';
export {
  codec,
  unaryMethod,
  encodeMessage,
  type StaticMessage,
  type MessageInit,
  type MessageCodec,
  type MethodDescriptor,
  type ServiceDescriptor,
} from './message';

// ── helpers
export { type Long, U64_MAX, u64, i64, toBigInt, toNumber, isU64Max } from './long';
export {
  type Timestamp,
  type TimestampLike,
  GO_ZERO_TIME_SECONDS,
  zeroTimestamp,
  toTimestamp,
  nowTimestamp,
  fromTimestamp,
  timestampToNanos,
  isZero,
} from './time';
export {
  type ErrorKind,
  type StatusLike,
  StatusCode,
  ERROR_KINDS,
  ErrdefsError,
  codeOf,
  kindOf,
  classText,
  stripClassText,
  isErrdefsError,
  toStatus,
  fromStatus,
  wrapError,
} from './errdefs';
export {
  TOPICS,
  TASK_EVENTS,
  type TaskEventName,
  type Topic,
  type TaskEventMap,
  type TaskEventInitMap,
  type TaskEventInfo,
  type TaskEvent,
  eventByTopic,
  eventByTypeUrl,
  isTaskTopic,
  packEvent,
  unpackEvent,
} from './topics';
export {
  type AnyMessage,
  type OciJson,
  type KnownTypes,
  type KnownTypeUrl,
  type UnpackedAny,
  OCI_SPEC_TYPE_URL,
  OCI_PROCESS_TYPE_URL,
  OCI_LINUX_RESOURCES_TYPE_URL,
  OCI_WINDOWS_RESOURCES_TYPE_URL,
  UnknownTypeUrlError,
  TypeUrlMismatchError,
  knownTypeUrls,
  isKnownTypeUrl,
  packAny,
  unpackAny,
  unpackAnyAs,
  packMessage,
  packJson,
  unpackJson,
} from './any';
export {
  type MetricsV1,
  type MetricsV2,
  type CgroupsV1,
  type CgroupsV2,
  METRICS_V1_TYPE_URL,
  METRICS_V2_TYPE_URL,
  cgroupsV1,
  cgroupsV2,
} from './metrics';
