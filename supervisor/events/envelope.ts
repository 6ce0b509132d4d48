/**
 * Validation of forwarded event envelopes, as containerd's events exchange does it
 * (events/exchange/exchange.go validateEnvelope, validateTopic): a valid namespace identifier, a
 * topic that starts with `/` and whose every `/`-separated component is an identifier, and a
 * non-zero timestamp. Anything else is InvalidArgument with containerd's wording.
 */
import { ErrdefsError } from '../../proto/errdefs';
import type { eventsApi } from '../../proto/index';
import { isZero } from '../../proto/time';
import { validateIdentifier } from '../util/identifiers';

/** Throws InvalidArgument unless `envelope` passes containerd's checks. */
export function validateEnvelope(envelope: eventsApi.Envelope.$Properties | null | undefined): void {
  if (envelope == null) throw new ErrdefsError('invalidArgument', 'forward request has no envelope');
  const namespace = envelope.namespace ?? '';
  try {
    validateIdentifier(namespace);
  } catch (err) {
    throw new ErrdefsError('invalidArgument', `event envelope has invalid namespace: ${(err as ErrdefsError).detail}`);
  }
  const topic = envelope.topic ?? '';
  try {
    validateTopic(topic);
  } catch (err) {
    throw new ErrdefsError('invalidArgument', `envelope topic ${JSON.stringify(topic)}: ${(err as ErrdefsError).detail}`);
  }
  if (isZero(envelope.timestamp)) throw new ErrdefsError('invalidArgument', 'timestamp must be set on forwarded event');
}

/** containerd's validateTopic. */
export function validateTopic(topic: string): void {
  if (topic === '') throw new ErrdefsError('invalidArgument', 'must not be empty');
  if (!topic.startsWith('/')) throw new ErrdefsError('invalidArgument', "must start with '/'");
  if (topic.length === 1) throw new ErrdefsError('invalidArgument', 'must have at least one component');
  for (const component of topic.slice(1).split('/')) {
    try {
      validateIdentifier(component);
    } catch (err) {
      throw new ErrdefsError('invalidArgument', `failed validation on component ${JSON.stringify(component)}: ${(err as ErrdefsError).detail}`);
    }
  }
}
