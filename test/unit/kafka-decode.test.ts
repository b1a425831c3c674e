/** Kafka record → event or dead letter: the reasons the worker's DLQ and metrics use. */
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetterRecord } from '../../src/ingest/kafka/dead-letter.ts';
import { decodeRecord, MAX_EVENT_BYTES } from '../../src/ingest/kafka/decode.ts';

const event = {
  eventId: '7d1c2c3e-8f9a-4b6c-9d0e-1f2a3b4c5d6e',
  eventType: 'purchase',
  userId: 'u1',
  tenantId: 'acme',
  amount: '12.50',
  currency: 'EUR',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  timestamp: 1_790_000_000_000,
};
const record = (value: unknown, key: string | null = 'acme') => ({
  offset: '41',
  timestamp: '0',
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
});

describe('decodeRecord', () => {
  it('accepts a valid Event v1 keyed by its tenant, with the idempotency key resolved', () => {
    const d = decodeRecord(record(event));
    expect(d).toMatchObject({ ok: true, event: { key: event.eventId, amount: '12.5', tenantId: 'acme' } });
  });

  it.each([
    ['no value', record(null), 'invalid_json'],
    ['broken JSON', record('{"eventType":'), 'invalid_json'],
    ['wrong type', record({ ...event, amount: true }), 'schema_violation'],
    ['missing field', record({ ...event, userId: undefined }), 'schema_violation'],
    ['oversized (checked before parsing)', record(`{"x":"${'y'.repeat(MAX_EVENT_BYTES)}"`), 'oversized'],
    ['key is another tenant', record(event, 'globex'), 'tenant_mismatch'],
    ['no key', record(event, null), 'tenant_mismatch'],
  ])('%s → %s', (_name, r, reason) => {
    const d = decodeRecord(r);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toBe(reason);
      expect(d.issues.length).toBeGreaterThan(0);
    }
  });
});

describe('deadLetterRecord', () => {
  it('keeps the original bytes and says why and where from in headers', () => {
    const r = record('{"eventType":');
    const dl = deadLetterRecord(r, { topic: 'events', partition: 3, reason: 'invalid_json', issues: [{ path: '', message: 'x'.repeat(10_000) }], at: 0 });
    expect(dl.value).toBe(r.value);
    expect(dl.key).toBe(r.key);
    expect(dl.headers?.[DLQ_HEADERS.reason]).toBe('invalid_json');
    expect(dl.headers?.[DLQ_HEADERS.source]).toBe('events:3:41');
    expect(String(dl.headers?.[DLQ_HEADERS.issues]).length).toBeLessThanOrEqual(4096);
  });
});
