/**
 * The small structural vocabulary shared by the generated service stubs (gen/services.ts) and the
 * hand-written helpers: a generated static message class seen as a codec, and method/service
 * descriptors.
 *
 * These shapes match ttrpc-ts' `Codec`, `MethodDefinition` and `ServiceDefinition` structurally —
 * proto/ imports nothing of ours, so it cannot name them; test/unit/proto/services.test.ts proves
 * that they agree.
 */

/** What a pbjs static message class offers: `X.encode(m).finish()` and `X.decode(bytes)`. */
export interface StaticMessage<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/**
 * What encoding a message of type T accepts: every field optional (null/absent = default), as pbjs'
 * `$Properties` — for the generic helpers that take a decoded type parameter. Non-object T (JSON) is kept.
 */
export type MessageInit<T> = T extends object ? { [K in keyof T]?: T[K] | null } : T;

/** Encodes and decodes one message type (structurally ttrpc-ts' `Codec<T>`). */
export interface MessageCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** One unary method: its wire name and codecs (structurally ttrpc-ts' `MethodDefinition`). */
export interface MethodDescriptor<Req, Res> {
  readonly name: string;
  readonly requestType: MessageCodec<Req>;
  readonly responseType: MessageCodec<Res>;
}

/** A service: its full wire name and its methods by lowerCamel key (structurally `ServiceDefinition`). */
export interface ServiceDescriptor<Methods> {
  readonly name: string;
  readonly methods: Methods;
}

/** Wraps a static message class as a codec. */
export function codec<T>(type: StaticMessage<T>): MessageCodec<T> {
  return {
    encode: (value: T): Uint8Array => type.encode(value).finish(),
    decode: (bytes: Uint8Array): T => type.decode(bytes),
  };
}

/** A method descriptor from its wire name and its request and response classes. */
export function unaryMethod<Req, Res>(name: string, request: StaticMessage<Req>, response: StaticMessage<Res>): MethodDescriptor<Req, Res> {
  return { name, requestType: codec(request), responseType: codec(response) };
}

/** Encodes a message with its static class (`X.encode(m).finish()`). */
export function encodeMessage<T>(type: StaticMessage<T>, message: T): Uint8Array {
  return type.encode(message).finish();
}
