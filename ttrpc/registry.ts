/**
 * The server's service table: registered definitions with their implementations, looked up by wire names.
 * Lookup failures are the exact Go statuses (`service <name>`, `method <name>`, UNIMPLEMENTED).
 */
import type { AnyMethodDefinition, AnyServiceDefinition } from './service';
import { DuplicateServiceError } from './errors';
import { Code, RpcError } from './status';

/** A resolved method: its definition (codecs) and the bound handler. */
export interface ResolvedMethod<Ctx> {
  readonly definition: AnyMethodDefinition;
  readonly handler: (request: unknown, context: Ctx) => Promise<unknown>;
}

/** Services by wire name, methods by wire name. */
export class ServiceRegistry<Ctx> {
  private readonly services = new Map<string, Map<string, ResolvedMethod<Ctx>>>();

  /**
   * Adds a service. Throws DuplicateServiceError if its name is taken (serve one implementation under two
   * names with `renameService`), and TypeError if the implementation lacks a method of the definition.
   */
  register(definition: AnyServiceDefinition, implementation: object): void {
    if (this.services.has(definition.name)) throw new DuplicateServiceError(definition.name);
    const impl = implementation as Record<string, unknown>;
    const methods = new Map<string, ResolvedMethod<Ctx>>();
    for (const [local, method] of methodsOf(definition)) {
      const fn = impl[local];
      if (typeof fn !== 'function') {
        throw new TypeError(`ttrpc: implementation of ${definition.name} has no method ${local}`);
      }
      const handler = fn as (this: object, request: unknown, context: Ctx) => Promise<unknown>;
      methods.set(method.name, { definition: method, handler: (request, context) => handler.call(implementation, request, context) });
    }
    this.services.set(definition.name, methods);
  }

  /** Registered service names. */
  names(): string[] {
    return [...this.services.keys()];
  }

  /** The method for a request, or the UNIMPLEMENTED error to send back. */
  resolve(service: string, method: string): ResolvedMethod<Ctx> | RpcError {
    const methods = this.services.get(service);
    if (methods === undefined) return new RpcError(Code.UNIMPLEMENTED, `service ${service}`);
    return methods.get(method) ?? new RpcError(Code.UNIMPLEMENTED, `method ${method}`);
  }
}

/** The method definitions of a service, checked: a generated definition is data, not trusted blindly. */
export function methodsOf(definition: AnyServiceDefinition): [string, AnyMethodDefinition][] {
  return Object.entries(definition.methods as Record<string, unknown>).map(([local, m]) => {
    const method = m as Partial<AnyMethodDefinition> | null;
    if (typeof method?.name !== 'string' || typeof method.requestType?.decode !== 'function' || typeof method.responseType?.encode !== 'function') {
      throw new TypeError(`ttrpc: ${definition.name}.${local} is not a method definition`);
    }
    return [local, method as AnyMethodDefinition];
  });
}
