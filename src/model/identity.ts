/**
 * An accepted event's identity, for any model: its idempotency key (Event v1's rule) and
 * the fingerprint of its content, which tells a retry of the same event (same key, same
 * fingerprint: a duplicate) from a reused key with other content (a dead letter). The
 * ingest pipeline's dedupe step (src/ingest/pipeline/) uses exactly these.
 */
import { createHash } from 'node:crypto';
import { fieldText, isColumn } from './event-fields.ts';
import type { FieldValue, ValidEvent } from './types.ts';

/** The eventId lower-cased, or a UUID-shaped digest of traceId | eventType | timestamp | userId (so retries of one event collapse). */
export function eventKey(e: Pick<ValidEvent, 'eventId' | 'traceId' | 'eventType' | 'timestamp' | 'userId'>): string {
  if (e.eventId) return e.eventId.toLowerCase();
  const hex = createHash('sha256').update(`${e.traceId}|${e.eventType}|${e.timestamp}|${e.userId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** What the fingerprint covers: everything the event log keeps but the key and tenant. */
export interface FingerprintInput {
  eventType: string;
  userId: string;
  traceId: string;
  timestamp: number;
  /** Event v1's columns (src/model/event-fields.ts): '' and undefined when the model has none. */
  currency: string;
  amount?: string;
  fields?: Readonly<Record<string, FieldValue>>;
}

/**
 * The content a key stands for, as a 53-bit hash: two arrivals of one key are a duplicate
 * only when it is equal, so the dedupe memory holds a number per key, not a copy of the
 * event. Two different contents of one key collide with a chance of about 1 in 2⁵³, and a
 * collision can only make a conflict a duplicate, never a second count.
 *
 * Covers the built-in fields, Event v1's columns, then every other declared field by name
 * (a field whose value is one of the columns is covered by it): an Event v1 event hashes as
 * it always did, and an event of another model with the same columns but another `plan`
 * has another fingerprint.
 */
export function fingerprint(e: FingerprintInput): number {
  // The text hashed: type, user, currency, amount, trace and timestamp joined by \u0001, then
  // each other field as \u0001name=JSON — fed piece by piece, never built as one string.
  ha = 0x811c9dc5;
  hb = 0x01000193 ^ 0x5bd1e995;
  feed(e.eventType, false);
  feed(e.userId);
  feed(e.currency);
  feed(e.amount ?? '');
  feed(e.traceId);
  feed(String(e.timestamp));
  const f = e.fields;
  if (f) {
    let names: string[] | null = null;
    for (const k in f) if (!isColumn(k, f[k]!, e)) (names ??= []).push(k);
    if (names) {
      if (names.length > 1) names.sort();
      // JSON text of the value: a string holding the separator cannot pass for another field.
      for (const k of names) feed(`${k}=${JSON.stringify(fieldText(f[k]!))}`);
    }
  }
  return (ha >>> 0) * 2 ** 21 + ((hb >>> 0) & 0x1fffff);
}

/** The running state of `fingerprint`: two FNV-1a hashes with different offsets (32 + 21 bits kept). */
let ha = 0;
let hb = 0;

/** Mixes the separator (\u0001, unless `separated` is false) and then the characters of `text` into the state. */
function feed(text: string, separated = true): void {
  let a = ha;
  let b = hb;
  if (separated) {
    a = Math.imul(a ^ 1, 0x01000193);
    b = Math.imul(b ^ 1, 0x01000193) ^ (b >>> 13);
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 13);
  }
  ha = a;
  hb = b;
}
