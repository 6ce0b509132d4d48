/**
 * Service definitions: what a ttrpc service looks like to the server (which dispatches to an
 * implementation) and to the client (which builds a typed stub from it).
 *
 * Definitions are plain data, generated from .proto files by proto/codegen (which does not import
 * this package: the shapes here are structural). One definition yields one implementation type,
 * shared by a server implementation and a client stub, so a remote service and an in-process one
 * are interchangeable.
 */

/** Encodes and decodes one protobuf message type. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** One unary method: its wire name (e.g. `State`) and its request and response codecs. */
export interface MethodDefinition<Req, Res> {
  readonly name: string;
  readonly requestType: Codec<Req>;
  readonly responseType: Codec<Res>;
}

// `any` is required here: the request/response types vary per method and are recovered by inference.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethodDefinition = MethodDefinition<any, any>;

/**
 * A service: its full wire name (e.g. `containerd.task.v2.Task`) and its methods by local name.
 * `Methods` may be any object type whose values are method definitions — generated code declares
 * it as an interface, which has no index signature, so the constraint is `object` and the server
 * checks each method definition when it registers the service.
 */
export interface ServiceDefinition<Methods extends object = Record<string, AnyMethodDefinition>> {
  readonly name: string;
  readonly methods: Methods;
}

/** Any service definition, whatever its methods' types. */
export type AnyServiceDefinition = ServiceDefinition<object>;

/** The request type of a method definition. */
export type RequestOf<M> = M extends MethodDefinition<infer Req, unknown> ? Req : never;
/** The response type of a method definition. */
export type ResponseOf<M> = M extends MethodDefinition<unknown, infer Res> ? Res : never;

/**
 * The implementation type of a service: one async function per method, called with the decoded
 * request and a context (the server passes its call context, a client stub takes call options).
 */
export type ServiceImplementation<D extends AnyServiceDefinition, Ctx> = {
  [K in keyof D['methods']]: (request: RequestOf<D['methods'][K]>, context: Ctx) => Promise<ResponseOf<D['methods'][K]>>;
};

/** The same service under another wire name (e.g. `containerd.task.v3.Task` for containerd 2.x). */
export function renameService<D extends AnyServiceDefinition>(definition: D, name: string): D {
  return { ...definition, name };
}

/**
 * A client stub of a service: one async function per method taking the request and optional call options.
 * It is assignable to `ServiceImplementation<D, Options | undefined>`, so a stub can stand in for an
 * in-process implementation.
 */
export type ServiceClient<D extends AnyServiceDefinition, Options> = {
  [K in keyof D['methods']]: (request: RequestOf<D['methods'][K]>, options?: Options) => Promise<ResponseOf<D['methods'][K]>>;
};
