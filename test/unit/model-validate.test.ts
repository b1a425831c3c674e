/**
 * The default model's generated validators accept and reject exactly what Event v1's
 * schema does, with the same reasons in the same order: over the e2e dataset (valid events
 * and every kind of broken one it makes) and a table of edge cases. And the events' JSON
 * Schema comes from the same model.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventV1Schema } from '../../src/contracts/event.ts';
import { compileModel } from '../../src/model/compile.ts';
import { fieldCodec } from '../../src/model/event-fields.ts';
import { eventKey, fingerprint } from '../../src/model/identity.ts';
import type { ModelPlan, Validation } from '../../src/model/types.ts';
import { generateDataset } from '../helpers/dataset.ts';

function load(path: string): ModelPlan {
  const r = compileModel(readFileSync(path, 'utf8'));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}
const plan = load('models/default.yaml');
const saas = load('models/saas.yaml');

/** Event v1's verdict in the model's terms: declared fields under `fields`. */
function v1(value: unknown): Validation {
  const r = eventV1Schema.safeParse(value);
  if (!r.success) return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
  const { eventId, eventType, userId, tenantId, traceId, timestamp, amount, currency } = r.data;
  return {
    ok: true,
    event: { ...(eventId !== undefined ? { eventId } : {}), eventType, userId, tenantId, traceId, timestamp, fields: { ...(amount !== undefined ? { amount } : {}), currency } },
  };
}

const base = { eventType: 'purchase', userId: 'u1', tenantId: 'acme', amount: '12.50', currency: 'EUR', traceId: 'ab'.repeat(16), timestamp: 1_764_000_000_000 };

describe('default model validators = Event v1', () => {
  const dataset = generateDataset({
    seed: 14,
    tenants: ['acme', 'globex'],
    currencies: ['EUR', 'USD', 'JPY'],
    count: 3000,
    start: Date.UTC(2026, 10, 1),
    spanMs: 3_600_000,
    allowedLatenessMs: 10_000,
    invalidRate: 0.2,
  });
  const bodies = dataset.items.filter((i) => typeof i.body !== 'string').map((i) => i.body);

  it('over the e2e dataset: every valid, duplicate and broken event gets the same verdict and reasons', () => {
    expect(bodies.length).toBeGreaterThan(3000);
    let rejected = 0;
    for (const body of bodies) {
      const expected = v1(body);
      if (!expected.ok) rejected++;
      expect(plan.validate(body), JSON.stringify(body)).toEqual(expected);
    }
    // The dataset's breakers are all there: rejections are a real part of the comparison.
    expect(rejected).toBeGreaterThan(400);
  });

  it.each<[string, unknown]>([
    ['a purchase', base],
    ['a number amount', { ...base, amount: 12.5 }],
    ['an amount with trailing zeros', { ...base, amount: '7.000000' }],
    ['a signup without amount', { ...base, eventType: 'signup', amount: undefined }],
    ['an upgrade with an amount', { ...base, eventType: 'upgrade' }],
    ['an eventId', { ...base, eventId: '6F9619FF-8B86-4011-B42D-00C04FC964FF' }],
    ['a bad eventId', { ...base, eventId: 'nope' }],
    ['a zero amount', { ...base, amount: '0' }],
    ['a negative amount', { ...base, amount: -1 }],
    ['7 fractional digits', { ...base, amount: '0.0000001' }],
    ['an amount that is not a number', { ...base, amount: 'ten' }],
    ['Infinity as amount', { ...base, amount: Number.POSITIVE_INFINITY }],
    ['a purchase without amount', { ...base, amount: undefined }],
    ['a churn with a zero amount', { ...base, eventType: 'churn', amount: '0' }],
    ['no currency', { ...base, currency: undefined }],
    ['lower-case currency', { ...base, currency: 'eur' }],
    ['an unknown currency', { ...base, currency: 'XQQ' }],
    ['an unknown eventType', { ...base, eventType: 'refund' }],
    ['no eventType', { ...base, eventType: undefined }],
    ['a numeric eventType', { ...base, eventType: 7 }],
    ['an empty userId', { ...base, userId: '' }],
    ['a long userId', { ...base, userId: 'x'.repeat(257) }],
    ['a bad tenantId', { ...base, tenantId: 'a b' }],
    ['an all-zero traceId', { ...base, traceId: '0'.repeat(32) }],
    ['an upper-case traceId', { ...base, traceId: 'AB'.repeat(16) }],
    ['a fractional timestamp', { ...base, timestamp: 1.5 }],
    ['a string timestamp', { ...base, timestamp: '2026-11-01' }],
    ['a negative timestamp', { ...base, timestamp: -1 }],
    ['two unknown keys and a missing amount', { ...base, amount: undefined, plan: 'pro', extra: 1 }],
    ['many problems at once', { eventType: 'purchase', currency: 'usd', traceId: 'x', extra: true }],
    ['an array', [base]],
    ['null', null],
    ['a string', 'purchase'],
    ['an empty object', {}],
  ])('%s', (_, value) => {
    expect(plan.validate(value)).toEqual(v1(value));
  });

  it('per event type: one strict schema each', () => {
    expect([...plan.eventSchemas.keys()]).toEqual(['purchase', 'signup', 'churn', 'upgrade']);
    expect(plan.eventSchemas.get('signup')!.safeParse({ ...base, eventType: 'signup' }).success).toBe(true);
    expect(plan.eventSchemas.get('signup')!.safeParse(base).success).toBe(false); // its eventType must be signup
  });
});

describe('a custom model (saas.yaml)', () => {
  const sub = { eventType: 'subscription_started', userId: 'u1', tenantId: 'acme', currency: 'EUR', plan: 'pro', amount: '49', traceId: 'cd'.repeat(16), timestamp: 1_764_000_000_000 };
  it.each<[string, unknown, Validation]>([
    [
      'a subscription with its own fields',
      { ...sub, country: 'DE', from_trial: true },
      { ok: true, event: { eventType: 'subscription_started', userId: 'u1', tenantId: 'acme', traceId: 'cd'.repeat(16), timestamp: 1_764_000_000_000, fields: { currency: 'EUR', plan: 'pro', country: 'DE', amount: '49', from_trial: true } } },
    ],
    ['a field of another event type', { ...sub, reason: 'fraud' }, { ok: false, issues: [{ path: '', message: 'Unrecognized key: "reason"' }] }],
    ['a trial with an amount', { ...sub, eventType: 'trial_started' }, { ok: false, issues: [{ path: '', message: 'Unrecognized key: "amount"' }] }],
    ['a refund without amount', { ...sub, eventType: 'refund', amount: undefined }, { ok: false, issues: [{ path: 'amount', message: 'amount is required for refund' }] }],
    ['a plan outside the enum', { ...sub, plan: 'gold' }, { ok: false, issues: [{ path: 'plan', message: 'Invalid option: expected one of "starter"|"pro"|"enterprise"' }] }],
    ['a country not matching its pattern', { ...sub, country: 'Germany' }, { ok: false, issues: [{ path: 'country', message: 'country must match ^[A-Z]{2}$' }] }],
    ['a boolean given as a string', { ...sub, from_trial: 'yes' }, { ok: false, issues: [{ path: 'from_trial', message: 'Invalid input: expected boolean, received string' }] }],
  ])('%s', (_, value, expected) => {
    expect(saas.validate(value)).toEqual(expected);
  });
});

describe('identity', () => {
  /** Event v1's rule, written out: the eventId lower-cased, or a UUID-shaped sha256 of traceId|eventType|timestamp|userId. */
  const v1Key = (e: { eventId?: string; traceId: string; eventType: string; timestamp: number; userId: string }) => {
    if (e.eventId) return e.eventId.toLowerCase();
    const h = createHash('sha256').update(`${e.traceId}|${e.eventType}|${e.timestamp}|${e.userId}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };
  const fp = (p: ModelPlan, value: unknown) => {
    const r = p.validate(value);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return fingerprint({ ...r.event, ...fieldCodec(p).columns(r.event.fields) });
  };

  it("the key is Event v1's idempotency key; the fingerprint changes with the content, not with eventId or tenant", () => {
    const dataset = generateDataset({ seed: 7, tenants: ['acme'], currencies: ['EUR'], count: 200, start: 0, spanMs: 60_000, allowedLatenessMs: 1000 });
    let derived = 0;
    for (const { body } of dataset.items.filter((i) => i.kind !== 'invalid')) {
      const r = plan.validate(body);
      const v = eventV1Schema.parse(body);
      if (v.eventId === undefined) derived++;
      expect(r.ok && eventKey(r.event)).toBe(v1Key(v));
    }
    expect(derived).toBeGreaterThan(0);
    expect(fp(plan, base)).toBe(fp(plan, { ...base, tenantId: 'other', eventId: '6f9619ff-8b86-4011-b42d-00c04fc964ff' }));
    expect(fp(plan, { ...base, amount: '12.51' })).not.toBe(fp(plan, base));
    expect(fp(plan, { ...base, amount: '12.500' })).toBe(fp(plan, base));
    expect(eventKey({ ...base, eventId: '6F9619FF-8B86-4011-B42D-00C04FC964FF' })).toBe('6f9619ff-8b86-4011-b42d-00c04fc964ff');
  });

  it("a default-model event's fingerprint is Event v1's columns alone; another model's covers every declared field", () => {
    const r = plan.validate(base);
    if (!r.ok) throw new Error('valid');
    const columns = fieldCodec(plan).columns(r.event.fields);
    expect(columns).toEqual({ currency: 'EUR', amount: '12.5' });
    expect(fingerprint({ ...r.event, ...columns })).toBe(fingerprint({ ...r.event, ...columns, fields: undefined }));

    const sub = { eventType: 'subscription_started', userId: 'u1', tenantId: 'acme', currency: 'EUR', plan: 'pro', amount: '49', traceId: 'cd'.repeat(16), timestamp: 1 };
    expect(fp(saas, { ...sub, plan: 'starter' })).not.toBe(fp(saas, sub));
    expect(fp(saas, { ...sub, from_trial: true })).not.toBe(fp(saas, { ...sub, from_trial: false }));
    // Fields in any order (a row read back from the log): the same content, the same fingerprint.
    const core = { eventType: 'renewal', userId: 'u1', traceId: 'cd'.repeat(16), timestamp: 1, currency: 'EUR', amount: '49' };
    expect(fingerprint({ ...core, fields: { currency: 'EUR', amount: '49', plan: 'pro', country: 'DE' } })).toBe(fingerprint({ ...core, fields: { country: 'DE', plan: 'pro', amount: '49', currency: 'EUR' } }));
  });
});
