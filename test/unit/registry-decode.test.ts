/**
 * The decoder's registry branch with real codecs (compileCodec) and an in-memory resolver
 * stand-in: a framed record passes its registered schema *and* the event contract, with the
 * same key rule as plain JSON; everything else becomes a reject with its own reason.
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { ConsumedMessage } from '../../src/ingest/kafka/consumer.ts';
import { decodeRecord } from '../../src/ingest/kafka/decode.ts';
import { checkTenant, isRejected, REJECT_REASONS, validate, withKey } from '../../src/ingest/pipeline/steps.ts';
import { framedRecords } from '../../src/ingest/kafka/producer.ts';
import { compileCodec } from '../../src/ingest/registry/codecs.ts';
import { eventsJsonSchemaText } from '../../src/model/json-schema.ts';
import { REGISTRY_REJECT_REASONS, type FramedDecoder, type FramedResult } from '../../src/ingest/registry/resolver.ts';
import { frame, readFrame } from '../../src/ingest/registry/wire.ts';
import { avroEventSchema } from '../helpers/avro.ts';
import { loadPlan } from '../helpers/model.ts';

const plan = loadPlan();

const event = {
  eventId: '6f1c3f7e-8a0b-4c47-9d55-0c1f2a3b4c5d',
  eventType: 'purchase',
  userId: 'u1',
  tenantId: 'acme',
  amount: '12.50',
  currency: 'USD',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  timestamp: 1_700_000_000_000,
};

const AVRO_SCHEMA = avroEventSchema('test', [{ name: 'coupon', type: ['null', 'string'], default: null }]);

/** Schema id → codec, as the resolver holds them after `prepare`. */
function decoder(codecs: Record<number, ReturnType<typeof compileCodec>>): FramedDecoder {
  return {
    prepare: async () => {},
    decode(value): FramedResult {
      const f = readFrame(value);
      if (!f) return { ok: false, reason: 'invalid_framing', issues: [{ path: '', message: 'short' }] };
      const codec = codecs[f.schemaId];
      return codec ? codec(f.body) : { ok: false, reason: 'schema_unknown', issues: [{ path: '', message: `id ${f.schemaId}` }] };
    },
  };
}

const open = JSON.parse(eventsJsonSchemaText(plan)) as Record<string, unknown>;
// A registered schema that allows a field the contract does not declare.
const withCoupon = { ...open, properties: { ...(open.properties as object), coupon: { type: 'string' } } };
const framed = decoder({
  1: compileCodec({ schema: eventsJsonSchemaText(plan), schemaType: 'JSON' }),
  2: compileCodec({ schema: JSON.stringify(withCoupon), schemaType: 'JSON' }),
  3: compileCodec({ schema: JSON.stringify(AVRO_SCHEMA), schemaType: 'AVRO' }),
});
const avroType = avro.Type.forSchema(AVRO_SCHEMA as avro.Schema);

const record = (value: Buffer | string, key = 'acme'): ConsumedMessage => ({ offset: '0', key: Buffer.from(key), value: Buffer.from(value), timestamp: '0' });
/** A record's first item through the decode step and the pipeline's contract steps (validate, key, tenant). */
function decode(value: Buffer | string, key?: string, d: FramedDecoder | null = framed) {
  const m = record(value, key);
  const item = decodeRecord(m, undefined, d ?? undefined)[0]!;
  const v = isRejected(item) ? item : validate(plan, item.value);
  const e = isRejected(v) ? v : checkTenant(withKey(v), m.key!.toString('latin1'), { path: 'key', message: () => 'key is not the tenant' });
  return isRejected(e) ? { ok: false as const, ...e } : { ok: true as const, event: e };
}

describe('wire format', () => {
  it('round-trips byte 0, the big-endian id and the body', () => {
    const v = frame(0x01020304, '{"a":1}');
    expect([...v.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(readFrame(v)).toEqual({ schemaId: 0x01020304, body: Buffer.from('{"a":1}') });
    expect(readFrame(Buffer.from([0, 1, 2]))).toBeNull();
  });

  it("Tilecast's producers frame one event per record, keyed by tenant", () => {
    const [r] = framedRecords([event as never], 7);
    expect(r!.key).toBe('acme');
    expect(readFrame(r!.value as Buffer)!.schemaId).toBe(7);
    expect(JSON.parse(readFrame(r!.value as Buffer)!.body.toString())).toEqual(event);
  });

  it('registry reasons are Kafka reject reasons (metric labels, dead-letter headers)', () => {
    for (const r of REGISTRY_REJECT_REASONS) expect(REJECT_REASONS).toContain(r);
  });
});

describe('decoding framed records', () => {
  it('a framed JSON event decodes to the same accepted event as the plain record', () => {
    const plain = decode(JSON.stringify(event));
    const viaRegistry = decode(frame(1, JSON.stringify(event)));
    expect(viaRegistry.ok).toBe(true);
    expect(viaRegistry).toEqual(plain);
  });

  it('an Avro event: null optional fields are absent, amounts stay exact strings', () => {
    const d = decode(frame(3, avroType.toBuffer({ ...event, eventId: null, eventType: 'signup', amount: null, coupon: null })));
    expect(d.ok && d.event).toMatchObject({ eventType: 'signup', userId: 'u1', timestamp: event.timestamp });
    expect(d.ok && 'amount' in d.event).toBe(false);
    const p = decode(frame(3, avroType.toBuffer({ ...event, amount: '0.000001', coupon: null })));
    expect(p.ok && p.event.amount).toBe('0.000001');
  });

  const cases: [string, Buffer | string, string, string?][] = [
    ['no registry configured', frame(1, JSON.stringify(event)), 'schema_unknown'],
    ['header cut short', Buffer.from([0, 0, 1]), 'invalid_framing'],
    ['unknown id', frame(99, JSON.stringify(event)), 'schema_unknown'],
    ['body is not JSON', frame(1, '{"eventType":'), 'invalid_json'],
    ['body fails the registered schema', frame(1, JSON.stringify({ ...event, eventType: 'refund' })), 'registered_schema_violation'],
    ['a field the registered schema allows but the contract does not declare', frame(2, JSON.stringify({ ...event, coupon: 'X' })), 'schema_violation'],
    ['Avro field the contract does not declare', frame(3, avroType.toBuffer({ ...event, coupon: 'X' })), 'schema_violation'],
    ['Avro body cut short', frame(3, avroType.toBuffer({ ...event, coupon: null }).subarray(0, 20)), 'registered_schema_violation'],
    ['Avro body with trailing bytes', frame(3, Buffer.concat([avroType.toBuffer({ ...event, coupon: null }), Buffer.from([1])])), 'registered_schema_violation'],
    ['contract rule the schema cannot express (purchase without amount)', frame(1, JSON.stringify({ ...event, amount: undefined })), 'schema_violation'],
    ['key is not the tenant', frame(1, JSON.stringify(event)), 'tenant_mismatch', 'other'],
  ];
  it.each(cases)('%s', (name, value, reason, key) => {
    const d = decode(value, key, name === 'no registry configured' ? null : framed);
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toBe(reason);
    expect(!d.ok && d.issues.length).toBeGreaterThan(0);
  });

  it('a framed registered-schema violation names the failing path', () => {
    const d = decode(frame(1, JSON.stringify({ ...event, currency: 'usd' })));
    expect(!d.ok && d.issues[0]).toMatchObject({ path: 'currency' });
  });
});
