/**
 * The events' JSON Schema (src/model/json-schema.ts), what `schema events` prints and
 * `schema push` registers: one strict object schema over the model's event types. Checked
 * with ajv (what the worker validates framed bodies with) against the model's validators:
 * it never refuses an event the model accepts, and refuses every field no type declares.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { eventsJsonSchema } from '../../src/model/json-schema.ts';
import { generateDataset } from '../helpers/dataset.ts';
import { loadPlan } from '../helpers/model.ts';

const plan = loadPlan();
const saas = loadPlan('models/saas.yaml');
type ObjectSchema = { $schema: string; type: string; properties: Record<string, Record<string, unknown>>; required: string[]; additionalProperties: boolean };
const schemaOf = (p: typeof plan) => eventsJsonSchema(p) as ObjectSchema;

function ajvFor(p: typeof plan) {
  const ajv = new Ajv({ strict: false });
  addFormats.default(ajv);
  return ajv.compile(schemaOf(p));
}

describe('events JSON Schema (default model)', () => {
  it('is draft-07, one strict object: eventType one of the types, the fields every type requires required', () => {
    const s = schemaOf(plan);
    expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(s).toMatchObject({ type: 'object', additionalProperties: false });
    expect(Object.keys(s.properties)).toEqual(['eventId', 'eventType', 'userId', 'tenantId', 'amount', 'currency', 'traceId', 'timestamp']);
    expect(s.properties.eventType).toEqual({ type: 'string', enum: ['purchase', 'signup', 'churn', 'upgrade'] });
    expect(s.required).toEqual(['eventType', 'userId', 'tenantId', 'currency', 'traceId', 'timestamp']);
    expect(s.properties.amount).toMatchObject({ type: ['string', 'number'] });
    expect(s.properties.amount!.description).toContain('Required on purchase.');
    expect(s.properties.currency).toMatchObject({ type: 'string', pattern: '^[A-Z]{3}$' });
  });

  it('never refuses an event the model accepts; refuses what it declares no type for (e2e dataset)', () => {
    const validate = ajvFor(plan);
    const dataset = generateDataset({ seed: 41, tenants: ['acme'], currencies: ['EUR', 'USD'], count: 2000, start: Date.UTC(2026, 10, 1), spanMs: 3_600_000, allowedLatenessMs: 10_000, invalidRate: 0.2 });
    let accepted = 0;
    let refused = 0;
    for (const { body } of dataset.items) {
      if (typeof body === 'string') continue;
      const byModel = plan.validate(body).ok;
      const bySchema = validate(body);
      if (byModel) {
        accepted++;
        expect(bySchema, JSON.stringify(body)).toBe(true);
      } else if (!bySchema) refused++;
    }
    expect(accepted).toBeGreaterThan(1500);
    expect(refused).toBeGreaterThan(0);
    const event = { eventType: 'purchase', userId: 'u1', tenantId: 'acme', amount: '12.50', currency: 'EUR', traceId: 'ab'.repeat(16), timestamp: 1_764_000_000_000 };
    expect(validate(event)).toBe(true);
    expect(validate({ ...event, coupon: 'X' })).toBe(false);
    expect(validate({ ...event, eventType: 'refund' })).toBe(false);
    expect(validate({ ...event, amount: true })).toBe(false);
  });
});

describe('events JSON Schema (saas.yaml)', () => {
  const s = schemaOf(saas);
  it("holds every type's fields once, saying which types carry and require them", () => {
    expect(Object.keys(s.properties)).toEqual(['eventId', 'eventType', 'userId', 'tenantId', 'currency', 'plan', 'country', 'amount', 'from_trial', 'reason', 'traceId', 'timestamp']);
    expect(s.required).toEqual(['eventType', 'userId', 'tenantId', 'currency', 'plan', 'traceId', 'timestamp']);
    expect(s.properties.plan).toEqual({ type: 'string', enum: ['starter', 'pro', 'enterprise'] });
    expect(s.properties.from_trial).toEqual({ type: 'boolean', description: 'The user had a trial before paying. Only on subscription_started.' });
    expect(s.properties.amount!.description).toContain('Only on subscription_started, renewal, refund. Required on subscription_started, renewal, refund.');
    expect(s.properties.reason!.description).toBe('Only on refund, churn.');
  });

  it('accepts what the model accepts; the per-type rules are left to the model', () => {
    const validate = ajvFor(saas);
    const sub = { eventType: 'subscription_started', userId: 'u1', tenantId: 'acme', currency: 'EUR', plan: 'pro', country: 'FR', amount: '49', from_trial: true, traceId: 'cd'.repeat(16), timestamp: 1 };
    for (const e of [sub, { ...sub, eventType: 'renewal', from_trial: undefined }, { ...sub, eventType: 'churn', amount: undefined, from_trial: undefined, reason: 'fraud' }]) {
      const clean = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
      expect(saas.validate(clean).ok).toBe(true);
      expect(validate(clean), JSON.stringify(clean)).toBe(true);
    }
    const renewalWithTrial = { ...sub, eventType: 'renewal' };
    expect(validate(renewalWithTrial)).toBe(true);
    expect(saas.validate(renewalWithTrial).ok).toBe(false);
    expect(validate({ ...sub, plan: 'gold' })).toBe(false);
  });
});
