/** Kafka record → the JSON values it holds, or rejects with the reasons the worker's DLQ and metrics use. */
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetterRecord } from '../../src/ingest/kafka/dead-letter.ts';
import { BATCH_CONTENT_TYPE, BATCH_HEADER, decodeRecord, itemBytes, lineOf, MAX_BATCH_BYTES, MAX_EVENT_BYTES, type RecordItem } from '../../src/ingest/kafka/decode.ts';
import { isRejected } from '../../src/ingest/pipeline/steps.ts';
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

const outcome = (d: RecordItem) => (isRejected(d) ? d.reason : 'value');
const values = (ds: RecordItem[]) => ds.map((d) => (isRejected(d) ? d.reason : (d.value as { userId?: string }).userId));

describe('decodeRecord: one event, a JSON array, or NDJSON, each recognised without a header', () => {
  it('one event (compact or pretty-printed) is one value', () => {
    expect(decodeRecord(record(event))).toEqual([{ value: event }]);
    expect(decodeRecord(record(JSON.stringify(event, null, 2)))).toEqual([{ value: event }]);
  });

  it('a JSON array of events is its elements, numbered from 1', () => {
    const arr = [{ ...event, userId: 'a' }, { ...event, userId: 'b' }, 42];
    const out = decodeRecord(record(`  ${JSON.stringify(arr, null, 1)}`));
    expect(out.map((d) => ('value' in d ? d.value : d))).toEqual(arr);
    expect(out.map((d) => d.line)).toEqual([1, 2, 3]);
    expect(itemBytes(record(arr), 2).toString()).toBe(JSON.stringify(arr[1]));
    // Every element of one record, asked in any order (the record is parsed again once, then remembered).
    const m = record(arr);
    expect([3, 1, 2].map((n) => itemBytes(m, n).toString())).toEqual([3, 1, 2].map((n) => JSON.stringify(arr[n - 1])));
  });

  it('NDJSON without the header is read line by line', () => {
    const v = [JSON.stringify({ ...event, userId: 'a' }), '', JSON.stringify({ ...event, userId: 'b' }), '{broken'].join('\n');
    const out = decodeRecord(record(v));
    expect(values(out)).toEqual(['a', 'b', 'invalid_json']);
    expect(out.map((d) => d.line)).toEqual([1, 3, 4]);
    expect(out[2]!.raw?.toString()).toBe('{broken');
  });

  it.each([
    ['no value', record(null), 'invalid_json'],
    ['broken JSON', record('{"eventType":'), 'invalid_json'],
    ['broken array', record('[{"eventType":'), 'invalid_json'],
    ['broken first line', record('{"eventType":\n{}'), 'invalid_json'],
    ['oversized event (checked before parsing)', record(`{"x":"${'y'.repeat(MAX_EVENT_BYTES)}"`), 'oversized'],
    ['oversized array', record(`["${'y'.repeat(MAX_BATCH_BYTES)}"]`), 'oversized'],
  ])('%s → %s', (_name, r, reason) => {
    const out = decodeRecord(r);
    expect(out.map(outcome)).toEqual([reason]);
    if (isRejected(out[0]!)) expect(out[0].issues.length).toBeGreaterThan(0);
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

describe('decodeRecord (batch records with the NDJSON header)', () => {
  const batch = (lines: string[], key = 'acme') => ({ ...record(lines.join('\n'), key), headers: { [BATCH_HEADER]: Buffer.from(BATCH_CONTENT_TYPE) } });
  const line = (over: Record<string, unknown> = {}) => JSON.stringify({ ...event, eventId: undefined, ...over });

  it('judges each line alone: bad lines carry their number and bytes, their neighbours are read', () => {
    const lines = [line({ userId: 'a' }), '{"eventType":', '', `{"x":"${'y'.repeat(MAX_EVENT_BYTES)}"}`, line({ userId: 'b' })];
    const out = decodeRecord(batch(lines));
    expect(values(out)).toEqual(['a', 'invalid_json', 'oversized', 'b']);
    expect(out.map((d) => d.line)).toEqual([1, 2, 4, 5]);
    // Every line carries its bytes, read or refused: a later step's dead letter needs no second scan.
    for (const d of out) expect(d.raw?.toString()).toBe(lines[d.line! - 1]);
    expect(itemBytes(batch(lines), 5).toString()).toBe(lines[4]);
  });

  it('reads a batch with non-ASCII lines the same (their bytes and values intact)', () => {
    const lines = [line({ userId: 'zoë ✓' }), '{"eventType":', line({ userId: 'b' })];
    const out = decodeRecord(batch(lines));
    expect(values(out)).toEqual(['zoë ✓', 'invalid_json', 'b']);
    for (const d of out) expect(d.raw?.toString()).toBe(lines[d.line! - 1]);
  });

  it('a batch over the record limit is one oversized reject', () => {
    const out = decodeRecord(batch([`{"x":"${'y'.repeat(MAX_BATCH_BYTES)}"}`]));
    expect(out.map(outcome)).toEqual(['oversized']);
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
    const decoded = recs.flatMap((r) => decodeRecord({ offset: '0', timestamp: '0', key: Buffer.from(String(r.key)), value: Buffer.from(String(r.value)), headers: r.headers }));
    expect(decoded.map((d) => (isRejected(d) ? d.reason : `${(d.value as EventV1).tenantId}${(d.value as EventV1).userId}`))).toEqual(['au1', 'au3', 'au5', 'bu2', 'bu4']);
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
