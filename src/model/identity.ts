/**
 * An accepted event's identity: its idempotency key (Event v1's rule, for any model) and a
 * fingerprint of its content, which tells a retry of the same event (same key, same
 * fingerprint: a duplicate) from a reused key with other content (a dead letter).
 */
import { createHash } from 'node:crypto';
import type { ModelEvent, ValidEvent } from './types.ts';

/** The eventId lower-cased, or a UUID-shaped digest of traceId | eventType | timestamp | userId. */
export function eventKey(e: ValidEvent): string {
  if (e.eventId) return e.eventId.toLowerCase();
  const hex = createHash('sha256').update(`${e.traceId}|${e.eventType}|${e.timestamp}|${e.userId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** sha256 (hex) of everything but eventId and tenantId, declared fields in name order. */
export function eventFingerprint(e: ValidEvent): string {
  const fields = Object.keys(e.fields)
    .sort()
    .map((k) => [k, e.fields[k]]);
  return createHash('sha256').update(JSON.stringify([e.eventType, e.userId, e.traceId, e.timestamp, fields])).digest('hex');
}

/** Gives `e` its key and fingerprint in place (validated events are fresh copies; no second copy per event). */
export function identify(e: ValidEvent): ModelEvent {
  const m = e as ModelEvent;
  m.key = eventKey(e);
  m.fingerprint = eventFingerprint(e);
  return m;
}
