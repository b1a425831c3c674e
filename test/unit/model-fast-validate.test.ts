/**
 * The validators' fast path (src/model/fast-validate.ts) never changes a verdict: over
 * valid events and many mutations of them (every field missing, of another JSON type, out
 * of bounds, edge values, unknown keys), a model's `validate` gives exactly what its zod
 * schema alone gives — acceptance, output and issues — and the fast path itself vouches
 * only for events zod accepts, with zod's output.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileModel } from '../../src/model/compile.ts';
import { fastValidator, isZodUuid } from '../../src/model/fast-validate.ts';
import type { ModelPlan, Validation } from '../../src/model/types.ts';

function load(text: string): ModelPlan {
  const r = compileModel(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
}

const CUSTOM = `
model: fast-path
window: 1m
allowedLateness: 10s
staleAfter: 30s
maxSeriesPerMetric: 100
fields:
  currency: { type: currency, required: true }
  seats: { type: integer, min: 1, max: 500 }
  note: { type: string, maxLength: 5 }
  flag: { type: boolean }
  amount: { type: decimal, min: '-10', exclusiveMin: '-20' }
events:
  ping:
    fields:
      size: { type: integer, required: true }
      tier: { type: enum, values: [a, b] }
metrics:
  - name: pings
    version: 1
    unit: count
    count: true
    where: { eventType: ping }
`;

const models = {
  default: load(readFileSync('models/default.yaml', 'utf8')),
  saas: load(readFileSync('models/saas.yaml', 'utf8')),
  custom: load(CUSTOM),
};

/** The verdict of the event type's zod schema alone (what validate gave before the fast path). */
function zodVerdict(plan: ModelPlan, value: Record<string, unknown>): Validation | null {
  const schema = plan.eventSchemas.get(String(value.eventType));
  if (!schema) return null;
  const r = schema.safeParse(value);
  if (!r.success) return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
  const p = r.data as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const name of plan.eventTypes.get(String(value.eventType))!.fields.keys()) if (p[name] !== undefined) fields[name] = p[name];
  return { ok: true, event: { ...(p.eventId !== undefined ? { eventId: p.eventId } : {}), eventType: p.eventType, userId: p.userId, tenantId: p.tenantId, traceId: p.traceId, timestamp: p.timestamp, fields } } as Validation;
}

const base = { userId: 'u1', tenantId: 'acme', traceId: 'ab'.repeat(16), timestamp: 1_764_000_000_000 };
const SAMPLES: unknown[] = [
  undefined, null, '', 'x', 'EUR', 'USD', 'XXX', 'eur', 'AB', 'DE', 'starter', 'pro', 'a', 'b', 'requested', '12.50', ' 12.5 ', '0', '-0', '0.0000001',
  '-5', '-10', '-15', '-20', '1e3', '007', 'hello!', 'héllo', '😀😀😀', 12.5, 0, -0, 1, -1, 1.5, 500, 501, 2 ** 53, NaN, Infinity, true, false, [], {}, ['EUR'],
  '9b2e8f3a-1c4d-4e5f-8a6b-7c8d9e0f1a2b', '9B2E8F3A-1C4D-4E5F-8A6B-7C8D9E0F1A2B', '00000000-0000-0000-0000-000000000000', '9b2e8f3a-1c4d-9e5f-8a6b-7c8d9e0f1a2b',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '9b2e8f3a-1c4d-4e5f-ca6b-7c8d9e0f1a2b', '9b2e8f3a-1c4d-4e5f-Ba6b-7c8d9e0f1a2b', '9b2e8f3a-1c4d-0e5f-8a6b-7c8d9e0f1a2b', '9b2e8f3a-1c4d-4e5f-8a6b-7c8d9e0f1a2g', '9b2e8f3a_1c4d-4e5f-8a6b-7c8d9e0f1a2b',
  '0'.repeat(32), 'AB'.repeat(16), 'ab'.repeat(15) + 'ag', '0'.repeat(31) + '1', 'a'.repeat(256), 'a'.repeat(257), 'acme', 'bad tenant', 253_402_300_799_999, 253_402_300_800_000,
];

/** Valid events of every type of the plan, then each with one key set to each sample, removed, or added unknown. */
function* cases(plan: ModelPlan): Generator<Record<string, unknown>> {
  const good: Record<string, unknown> = { currency: 'EUR', plan: 'pro', amount: '12.50', size: 3, seats: 2, reason: 'fraud', tier: 'a', from_trial: true, note: 'hi', flag: false, country: 'DE' };
  for (const [type, t] of plan.eventTypes) {
    const valid: Record<string, unknown> = { eventType: type, ...base };
    for (const name of t.fields.keys()) valid[name] = good[name];
    yield valid;
    yield { ...valid, eventId: '9b2e8f3a-1c4d-4e5f-8a6b-7c8d9e0f1a2b' };
    for (const key of [...Object.keys(valid), 'eventId', 'unknown', ...Object.keys(good)]) {
      const { [key]: _, ...without } = valid;
      yield without;
      for (const v of SAMPLES) yield { ...valid, [key]: v };
    }
  }
}

describe('validators: the fast path never changes a verdict', () => {
  it("isZodUuid is zod's uuid rule", () => {
    const zodUuid = z.uuid();
    const hexes = ['0', '1', '7', '8', '9', 'a', 'b', 'c', 'f', 'A', 'B', 'C', 'F', 'g', '-'];
    const base = '9b2e8f3a-1c4d-4e5f-8a6b-7c8d9e0f1a2b';
    const candidates = new Set<string>(['', base.slice(1), `${base}0`, '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF']);
    for (let i = 0; i < base.length; i++) for (const h of hexes) candidates.add(base.slice(0, i) + h + base.slice(i + 1));
    for (const v of candidates) expect(isZodUuid(v), v).toBe(zodUuid.safeParse(v).success);
  });

  for (const [name, plan] of Object.entries(models)) {
    it(`${name}: validate = the zod schema alone, on valid and mutated events`, () => {
      let accepted = 0;
      let rejected = 0;
      for (const value of cases(plan)) {
        const expected = zodVerdict(plan, value);
        const got = plan.validate(value);
        if (expected) expect(got, JSON.stringify(value)).toEqual(expected);
        if (got.ok) accepted += 1;
        else rejected += 1;
      }
      // Both sides of the comparison are exercised.
      expect(accepted).toBeGreaterThan(50);
      expect(rejected).toBeGreaterThan(500);
    });
  }

  it('the fast path vouches only for what zod accepts, and serves the valid events itself', () => {
    const plan = models.custom;
    const t = plan.eventTypes.get('ping')!;
    const slots = [...t.fields.values()].map((spec) => ({ spec, required: spec.required }));
    const decimal = () => (v: string | number) => (String(v) === '12.50' ? '12.5' : null);
    const fast = fastValidator('ping', slots, decimal)!;
    let vouched = 0;
    for (const value of cases(plan)) {
      if (value.eventType !== 'ping') continue;
      const quick = fast(value);
      if (!quick) continue;
      vouched += 1;
      expect(zodVerdict(plan, value), JSON.stringify(value)).toEqual({ ok: true, event: quick });
    }
    expect(vouched).toBeGreaterThan(20);
    // Not a plain object, or a prototype key: left to zod.
    expect(fast(Object.assign(Object.create({ x: 1 }), { eventType: 'ping', ...base, currency: 'EUR', size: 1 }))).toBeNull();
    expect(fast({ eventType: 'ping', ...base, currency: 'EUR', size: 1 })).not.toBeNull();
  });
});
