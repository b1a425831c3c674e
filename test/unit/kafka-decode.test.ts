/** Kafka record → event or dead letter: the reasons the worker's DLQ and metrics use. */
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetterRecord } from '../../src/ingest/kafka/dead-letter.ts';
import { BATCH_CONTENT_TYPE, BATCH_HEADER, decodeMessage, decodeRecord, lineOf, MAX_BATCH_BYTES, MAX_EVENT_BYTES } from '../../src/ingest/kafka/decode.ts';
import { BATCH_MAX_BYTES, BATCH_MAX_EVENTS, batchRecords } from '../../src/ingest/kafka/producer.ts';
import type { EventV1 } from '../../src/contracts/event.ts';

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

describe('decodeMessage (batch records)', () => {
  const batch = (lines: string[], key = 'acme') => ({ ...record(lines.join('\n'), key), headers: { [BATCH_HEADER]: Buffer.from(BATCH_CONTENT_TYPE) } });
  const line = (over: Record<string, unknown> = {}) => JSON.stringify({ ...event, eventId: undefined, ...over });

  it('without the header a record is one event, even with newlines in it', () => {
    expect(decodeMessage(record(JSON.stringify(event, null, 2)))).toMatchObject([{ ok: true }]);
  });

  it('judges each line alone: bad lines carry their number and bytes, their neighbours count', () => {
    const lines = [line({ userId: 'a' }), '{"eventType":', line({ amount: true }), '', line({ tenantId: 'globex' }), `{"x":"${'y'.repeat(MAX_EVENT_BYTES)}"}`, line({ userId: 'b' })];
    const out = decodeMessage(batch(lines));
    expect(out.map((d) => (d.ok ? 'ok' : d.reason))).toEqual(['ok', 'invalid_json', 'schema_violation', 'tenant_mismatch', 'oversized', 'ok']);
    expect(out.map((d) => d.line)).toEqual([1, 2, 3, 5, 6, 7]);
    for (const d of out.filter((x) => !x.ok)) expect(d.raw?.toString()).toBe(lines[d.line! - 1]);
    expect(out[5]).toMatchObject({ ok: true, event: { userId: 'b', tenantId: 'acme' } });
  });

  it('a batch over the record limit is one oversized reject', () => {
    const out = decodeMessage(batch([`{"x":"${'y'.repeat(MAX_BATCH_BYTES)}"}`]));
    expect(out).toMatchObject([{ ok: false, reason: 'oversized' }]);
  });

  it('lineOf finds a line by number', () => {
    const v = Buffer.from('a\nbb\n\nccc');
    expect([1, 2, 3, 4].map((n) => lineOf(v, n).toString())).toEqual(['a', 'bb', '', 'ccc']);
  });
});

describe('batchRecords', () => {
  const ev = (tenantId: string, i: number): EventV1 => ({ ...(event as unknown as EventV1), eventId: undefined, tenantId, userId: `u${i}`, timestamp: event.timestamp + i });

  it('one record per tenant, in order, that decodes back to the same events', () => {
    const events = [ev('a', 1), ev('b', 2), ev('a', 3), ev('b', 4), ev('a', 5)];
    const recs = batchRecords(events);
    expect(recs.map((r) => r.key)).toEqual(['a', 'b']);
    const decoded = recs.flatMap((r) => decodeMessage({ offset: '0', timestamp: '0', key: Buffer.from(String(r.key)), value: Buffer.from(String(r.value)), headers: r.headers }));
    expect(decoded.map((d) => (d.ok ? `${d.event.tenantId}${d.event.userId}` : d.reason))).toEqual(['au1', 'au3', 'au5', 'bu2', 'bu4']);
  });

  it('splits at BATCH_MAX_EVENTS events and BATCH_MAX_BYTES bytes', () => {
    const many = Array.from({ length: BATCH_MAX_EVENTS * 2 + 1 }, (_, i) => ev('a', i));
    expect(batchRecords(many).map((r) => String(r.value).split('\n').length)).toEqual([BATCH_MAX_EVENTS, BATCH_MAX_EVENTS, 1]);
    // 900 events of ~450 bytes: under the event cap, over the byte cap.
    const recs = batchRecords(Array.from({ length: 900 }, (_, i) => ({ ...ev('a', i), userId: `${i}-${'u'.repeat(250)}` })));
    expect(recs.length).toBe(2);
    expect(recs.map((r) => String(r.value).split('\n').length).reduce((a, b) => a + b)).toBe(900);
    for (const r of recs) expect(Buffer.byteLength(String(r.value))).toBeLessThanOrEqual(BATCH_MAX_BYTES);
  });
});
