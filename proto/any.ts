/**
 * google.protobuf.Any with containerd's type URLs (PROTOCOL §6.8): the bare proto full name for
 * protobuf messages (`containerd.runc.v1.Options`, `containerd.events.TaskExit`) — no
 * `type.googleapis.com/` prefix — and `types.containerd.io/opencontainers/runtime-spec/1/<Type>` for
 * the OCI runtime-spec types, whose value is JSON. `ctr task ps` and `ctr task metrics` fail on a URL
 * they do not know, so the registry here knows exactly the types our processes exchange.
 */
import { containerd, runtimeoptions, type google } from './gen/shim';
import type { MessageCodec, MessageInit, StaticMessage } from './message';
import { METRICS_V1_TYPE_URL, METRICS_V2_TYPE_URL, cgroupsV1, cgroupsV2, type MetricsV1, type MetricsV2 } from './metrics';
import { TASK_EVENTS, type TaskEventMap } from './topics';

/** A google.protobuf.Any as the generated classes carry it. */
export type AnyMessage = google.protobuf.Any;

const OCI_PREFIX = 'types.containerd.io/opencontainers/runtime-spec/1/';
/** OCI runtime Spec (config.json) as JSON. */
export const OCI_SPEC_TYPE_URL = `${OCI_PREFIX}Spec`;
/** OCI Process (ExecProcessRequest.spec) as JSON. */
export const OCI_PROCESS_TYPE_URL = `${OCI_PREFIX}Process`;
/** OCI LinuxResources (UpdateTaskRequest.resources) as JSON. */
export const OCI_LINUX_RESOURCES_TYPE_URL = `${OCI_PREFIX}LinuxResources`;
/** OCI WindowsResources as JSON (known so it can be recognised; never produced here). */
export const OCI_WINDOWS_RESOURCES_TYPE_URL = `${OCI_PREFIX}WindowsResources`;

/** A JSON value as carried by the OCI type URLs (the caller validates its shape). */
export type OciJson = unknown;

/** Every type URL this package can pack and unpack, with its decoded type. */
export interface KnownTypes {
  'containerd.runc.v1.Options': containerd.runc.v1.Options;
  'containerd.runc.v1.CheckpointOptions': containerd.runc.v1.CheckpointOptions;
  'containerd.runc.v1.ProcessDetails': containerd.runc.v1.ProcessDetails;
  'containerd.linux.runc.CreateOptions': containerd.linux.runc.CreateOptions;
  'containerd.linux.runc.RuncOptions': containerd.linux.runc.RuncOptions;
  'containerd.linux.runc.CheckpointOptions': containerd.linux.runc.CheckpointOptions;
  'containerd.linux.runc.ProcessDetails': containerd.linux.runc.ProcessDetails;
  'runtimeoptions.v1.Options': runtimeoptions.v1.Options;
  'io.containerd.cgroups.v1.Metrics': MetricsV1;
  'io.containerd.cgroups.v2.Metrics': MetricsV2;
  'containerd.events.TaskCreate': TaskEventMap['/tasks/create'];
  'containerd.events.TaskStart': TaskEventMap['/tasks/start'];
  'containerd.events.TaskDelete': TaskEventMap['/tasks/delete'];
  'containerd.events.TaskExit': TaskEventMap['/tasks/exit'];
  'containerd.events.TaskOOM': TaskEventMap['/tasks/oom'];
  'containerd.events.TaskExecAdded': TaskEventMap['/tasks/exec-added'];
  'containerd.events.TaskExecStarted': TaskEventMap['/tasks/exec-started'];
  'containerd.events.TaskPaused': TaskEventMap['/tasks/paused'];
  'containerd.events.TaskResumed': TaskEventMap['/tasks/resumed'];
  'containerd.events.TaskCheckpointed': TaskEventMap['/tasks/checkpointed'];
  'types.containerd.io/opencontainers/runtime-spec/1/Spec': OciJson;
  'types.containerd.io/opencontainers/runtime-spec/1/Process': OciJson;
  'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources': OciJson;
  'types.containerd.io/opencontainers/runtime-spec/1/WindowsResources': OciJson;
}

/** A known type URL. */
export type KnownTypeUrl = keyof KnownTypes;
/** An unpacked Any: its URL and decoded value, discriminated by URL. */
export type UnpackedAny = { [U in KnownTypeUrl]: { readonly typeUrl: U; readonly value: KnownTypes[U] } }[KnownTypeUrl];

/** Thrown when an Any's type URL is not in the registry. */
export class UnknownTypeUrlError extends TypeError {
  /** Stable error code. */
  readonly code = 'ERR_PROTO_UNKNOWN_TYPE_URL';
  constructor(readonly typeUrl: string) {
    super(`unknown Any type URL ${JSON.stringify(typeUrl)}`);
    this.name = 'UnknownTypeUrlError';
  }
}

/** Thrown when an Any does not carry the type URL the caller expects. */
export class TypeUrlMismatchError extends TypeError {
  /** Stable error code. */
  readonly code = 'ERR_PROTO_TYPE_URL_MISMATCH';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`expected an Any of type ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    this.name = 'TypeUrlMismatchError';
  }
}

function messageCodec<T>(type: StaticMessage<T>): MessageCodec<T> {
  return { encode: (v) => type.encode(v).finish(), decode: (b) => type.decode(b) };
}

const jsonCodec: MessageCodec<OciJson> = {
  // JSON.stringify(undefined) is undefined: send JSON null rather than nothing.
  encode: (v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? 'null', 'utf8')),
  decode: (b) => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as OciJson,
};

/** Codec factories by URL; factories so the cgroups module loads only when a metrics Any is touched. */
const REGISTRY = new Map<string, () => MessageCodec<unknown>>([
  ['containerd.runc.v1.Options', () => messageCodec(containerd.runc.v1.Options)],
  ['containerd.runc.v1.CheckpointOptions', () => messageCodec(containerd.runc.v1.CheckpointOptions)],
  ['containerd.runc.v1.ProcessDetails', () => messageCodec(containerd.runc.v1.ProcessDetails)],
  ['containerd.linux.runc.CreateOptions', () => messageCodec(containerd.linux.runc.CreateOptions)],
  ['containerd.linux.runc.RuncOptions', () => messageCodec(containerd.linux.runc.RuncOptions)],
  ['containerd.linux.runc.CheckpointOptions', () => messageCodec(containerd.linux.runc.CheckpointOptions)],
  ['containerd.linux.runc.ProcessDetails', () => messageCodec(containerd.linux.runc.ProcessDetails)],
  ['runtimeoptions.v1.Options', () => messageCodec(runtimeoptions.v1.Options)],
  [METRICS_V1_TYPE_URL, () => messageCodec(cgroupsV1().Metrics)],
  [METRICS_V2_TYPE_URL, () => messageCodec(cgroupsV2().Metrics)],
  ...TASK_EVENTS.map((e): [string, () => MessageCodec<unknown>] => [e.typeUrl, () => messageCodec(e.type)]),
  ...[OCI_SPEC_TYPE_URL, OCI_PROCESS_TYPE_URL, OCI_LINUX_RESOURCES_TYPE_URL, OCI_WINDOWS_RESOURCES_TYPE_URL].map(
    (url): [string, () => MessageCodec<unknown>] => [url, () => jsonCodec],
  ),
]);

function codecFor(typeUrl: string): MessageCodec<unknown> {
  const factory = REGISTRY.get(typeUrl);
  if (factory === undefined) throw new UnknownTypeUrlError(typeUrl);
  return factory();
}

/** Every known type URL, sorted. */
export function knownTypeUrls(): KnownTypeUrl[] {
  return ([...REGISTRY.keys()] as KnownTypeUrl[]).sort();
}

/** Whether `typeUrl` is a known type. */
export function isKnownTypeUrl(typeUrl: string): typeUrl is KnownTypeUrl {
  return REGISTRY.has(typeUrl);
}

/** Packs a known type: messages are encoded with their class (absent fields = zero), OCI types as JSON. */
export function packAny<U extends KnownTypeUrl>(typeUrl: U, value: MessageInit<KnownTypes[U]>): AnyMessage {
  return { typeUrl, value: codecFor(typeUrl).encode(value) };
}

/** Unpacks an Any of any known type; UnknownTypeUrlError for other URLs. */
export function unpackAny(any: google.protobuf.Any.$Properties): UnpackedAny {
  const typeUrl = any.typeUrl ?? '';
  const value = codecFor(typeUrl).decode(any.value ?? new Uint8Array(0));
  return { typeUrl, value } as UnpackedAny;
}

/** Unpacks an Any that must be of type `typeUrl`; TypeUrlMismatchError otherwise. */
export function unpackAnyAs<U extends KnownTypeUrl>(any: google.protobuf.Any.$Properties, typeUrl: U): KnownTypes[U] {
  const actual = any.typeUrl ?? '';
  if (actual !== typeUrl) throw new TypeUrlMismatchError(typeUrl, actual);
  return codecFor(typeUrl).decode(any.value ?? new Uint8Array(0)) as KnownTypes[U];
}

/** Packs any message under a type URL of the caller's choosing (for types outside the registry). */
export function packMessage<T>(typeUrl: string, type: StaticMessage<T>, message: MessageInit<T>): AnyMessage {
  return { typeUrl, value: type.encode(message as T).finish() };
}

/** Packs a JSON value under a type URL (e.g. an OCI type). */
export function packJson(typeUrl: string, value: unknown): AnyMessage {
  return { typeUrl, value: jsonCodec.encode(value) };
}

/** Unpacks a JSON Any; TypeUrlMismatchError when `typeUrl` is given and differs; SyntaxError on bad JSON. */
export function unpackJson(any: google.protobuf.Any.$Properties, typeUrl?: string): OciJson {
  const actual = any.typeUrl ?? '';
  if (typeUrl !== undefined && actual !== typeUrl) throw new TypeUrlMismatchError(typeUrl, actual);
  return jsonCodec.decode(any.value ?? new Uint8Array(0));
}
