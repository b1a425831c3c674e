/**
 * The ingest pipeline validates with the metric model it is given: models/saas.yaml's
 * event types, fields and rules through the real pipeline (validate → key → tenant →
 * dedupe → budget → sink), the accepted events' declared fields, and the dedupe rule over
 * them. A model without a currency field runs the same pipeline with no currency budget.
 */
import { describe, expect, it } from 'vitest';
import type { AcceptedEvent, WindowEvent } from '../../src/contracts/event.ts';
import { decodeRecord } from '../../src/ingest/kafka/decode.ts';
import { batchRecords, encodeEvent } from '../../src/ingest/kafka/producer.ts';
import { createKeyIndex } from '../../src/ingest/pipeline/key-index.ts';
import { createIngestPipeline, type RejectedItem } from '../../src/ingest/pipeline/pipeline.ts';
import { windowStartOf, type Issue } from '../../src/ingest/pipeline/steps.ts';
import { compileModel } from '../../src/model/compile.ts';
import type { ModelPlan } from '../../src/model/types.ts';
import type { ArrivalQuery } from '../../src/storage/event-log.ts';
import { loadPlan } from '../helpers/model.ts';

const saas = loadPlan('models/saas.yaml');
const T = Date.UTC(2026, 0, 10, 12, 0, 0);
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** An event as JSON carries it (a key set to undefined is left out, as JSON.stringify would). */
const sub = (n: number, over: Record<string, unknown> = {}): Record<string, unknown> =>
  JSON.parse(
    JSON.stringify({
      eventId: ID(n),
      eventType: 'subscription_started',
      userId: `u${n}`,
      tenantId: 'acme',
      currency: 'EUR',
      plan: 'pro',
      amount: '49.90',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      timestamp: T,
      ...over,
    }),
  ) as Record<string, unknown>;

function setup(plan: ModelPlan, budget = 5) {
  const rows: WindowEvent[] = [];
  const sunk: AcceptedEvent[] = [];
  const dead: RejectedItem<number>[] = [];
  const arrivals = async (q: ArrivalQuery) => rows.filter((r) => q.tenants.includes(r.tenantId) && windowStartOf(r.timestamp) >= q.from && (!q.keys || q.keys.includes(r.key)));
  const pipeline = createIngestPipeline<number>({
    plan,
    tenantRule: { path: 'tenantId', message: () => 'wrong tenant' },
    currencyBudget: budget,
    retentionDays: 0,
    clock: () => T,
    keys: createKeyIndex({ arrivals, soleWriter: true, clock: () => T }),
    currencies: async () => new Map(),
    deadLetter: async (r) => void dead.push(...r),
    sink: {
      async accept(events) {
        sunk.push(...events);
        rows.push(...events);
      },
    },
  });
  const run = (values: unknown[]) => pipeline.run(values.map((value, ref) => ({ ref, item: { value }, tenant: 'acme' })));
  return { run, sunk, dead };
}

describe('validate with models/saas.yaml, through the pipeline', () => {
  it.each<[string, Record<string, unknown>, Issue[]]>([
    ['an unknown field', sub(1, { coupon: 'X' }), [{ path: '', message: 'Unrecognized key: "coupon"' }]],
    ["a field of another event type (refund's reason)", sub(1, { reason: 'fraud' }), [{ path: '', message: 'Unrecognized key: "reason"' }]],
    ['a field on a type that has none of its own', sub(1, { eventType: 'trial_started' }), [{ path: '', message: 'Unrecognized key: "amount"' }]],
    ['an enum value outside the list', sub(1, { plan: 'gold' }), [{ path: 'plan', message: 'Invalid option: expected one of "starter"|"pro"|"enterprise"' }]],
    ['an enum of the event type', sub(1, { eventType: 'churn', amount: undefined, reason: 'bored' }), [{ path: 'reason', message: 'Invalid option: expected one of "requested"|"duplicate"|"fraud"|"service_issue"' }]],
    ['a string not matching its pattern', sub(1, { country: 'Germany' }), [{ path: 'country', message: 'country must match ^[A-Z]{2}$' }]],
    ['a field required by its event type', sub(1, { eventType: 'renewal', amount: undefined }), [{ path: 'amount', message: 'amount is required for renewal' }]],
    ['a field required on every type', sub(1, { plan: undefined }), [{ path: 'plan', message: 'Invalid option: expected one of "starter"|"pro"|"enterprise"' }]],
    ['a decimal at its exclusive minimum', sub(1, { amount: '0.000' }), [{ path: 'amount', message: 'amount must be greater than 0' }]],
    ['a decimal below its minimum', sub(1, { eventType: 'refund', amount: -3 }), [{ path: 'amount', message: 'amount must be greater than 0' }]],
    ['a decimal with 7 fractional digits', sub(1, { amount: '1.0000001' }), [{ path: 'amount', message: 'amount must be a decimal with at most 6 fractional digits' }]],
    ['a boolean given as a string', sub(1, { from_trial: 'true' }), [{ path: 'from_trial', message: 'Invalid input: expected boolean, received string' }]],
    ["an event type of another model (the default model's purchase)", sub(1, { eventType: 'purchase' }), [{ path: 'eventType', message: 'Invalid option: expected one of "trial_started"|"subscription_started"|"renewal"|"refund"|"churn"' }]],
  ])('%s → schema_violation', async (_, value, issues) => {
    const s = setup(saas);
    const r = await s.run([value, sub(2)]);
    expect(r.rejected.map((x) => ({ ref: x.ref, reason: x.reason, issues: x.issues }))).toEqual([{ ref: 0, reason: 'schema_violation', issues }]);
    expect(s.dead.map((d) => d.ref)).toEqual([0]);
    expect(r.accepted).toBe(1); // nothing else of the batch is lost
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['a subscription with every field', sub(1, { country: 'DE', from_trial: true }), { currency: 'EUR', plan: 'pro', country: 'DE', amount: '49.9', from_trial: true }],
    ['a subscription without optional fields', sub(1), { currency: 'EUR', plan: 'pro', amount: '49.9' }],
    ['a trial without eventId (a derived key)', sub(0, { eventId: undefined, eventType: 'trial_started', amount: undefined, plan: 'starter' }), { currency: 'EUR', plan: 'starter' }],
    ['a refund with its reason, amount as a JSON number', sub(1, { eventType: 'refund', amount: 12.5, reason: 'duplicate' }), { currency: 'EUR', plan: 'pro', amount: '12.5', reason: 'duplicate' }],
  ])('%s: accepted with every declared field present, and the columns', async (_, value, fields) => {
    const s = setup(saas);
    const r = await s.run([value]);
    expect(r.rejected).toEqual([]);
    const [e] = s.sunk;
    expect(e!.fields).toEqual(fields);
    expect([e!.currency, e!.amount]).toEqual([fields.currency, fields.amount]);
    expect(e!.key).toEqual(value.eventId ?? expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-/));
  });

  it('a reused key is a duplicate only with the same declared fields: another plan or flag is a conflict', async () => {
    const s = setup(saas);
    const r = await s.run([sub(1, { from_trial: true }), sub(1, { from_trial: true }), sub(1, { plan: 'enterprise', from_trial: true }), sub(1, { from_trial: false }), sub(1)]);
    expect([r.accepted, r.duplicates]).toEqual([1, 1]);
    expect(r.rejected.map((x) => [x.ref, x.reason])).toEqual([
      [2, 'duplicate_key_conflict'],
      [3, 'duplicate_key_conflict'],
      [4, 'duplicate_key_conflict'],
    ]);
    // Judged again from the logged rows (a later batch, from memory of what was logged).
    const again = await s.run([sub(1, { from_trial: true }), sub(1, { plan: 'starter', from_trial: true })]);
    expect([again.accepted, again.duplicates, again.rejected.map((x) => x.reason)]).toEqual([0, 1, ['duplicate_key_conflict']]);
  });

  it('the currency budget applies to the currency field', async () => {
    const s = setup(saas, 1);
    const r = await s.run([sub(1), sub(2, { currency: 'USD' })]);
    expect(r.rejected.map((x) => x.reason)).toEqual(['currency_budget_exceeded']);
  });
});

describe("the api's Kafka records (models/saas.yaml)", () => {
  it('carry every declared field: the worker validates them again to the same events', async () => {
    const api = setup(saas);
    await api.run([sub(1, { country: 'DE', from_trial: true }), sub(2, { eventType: 'refund', reason: 'fraud', amount: '1.5' }), sub(3, { eventType: 'churn', amount: undefined })]);
    expect(JSON.parse(encodeEvent(api.sunk[0]!))).toEqual({ ...sub(1, { country: 'DE', from_trial: true }), amount: '49.9' });
    const worker = setup(saas);
    const items = batchRecords(api.sunk).flatMap((r) =>
      decodeRecord({ key: Buffer.from(String(r.key)), value: Buffer.from(r.value as string), headers: r.headers as Record<string, string>, offset: '0', timestamp: '0' }),
    );
    const out = await worker.run(items.map((d) => ('value' in d ? d.value : d)));
    expect([out.accepted, out.rejected]).toEqual([3, []]);
    expect(worker.sunk).toEqual(api.sunk);
  });
});

describe('a model without currency', () => {
  const compiled = compileModel(`
model: no-money
fields:
  plan: { type: enum, values: [free, pro] }
dimensions:
  plan: { maxValuesPerTenant: 2 }
events:
  visit: { fields: { seconds: { type: integer, min: 0 } } }
metrics:
  - { name: visits, version: 1, unit: count, count: true, by: [plan] }
`);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const plan = compiled.plan;
  const visit = (n: number, over: Record<string, unknown> = {}) => ({ eventId: ID(n), eventType: 'visit', userId: 'u', tenantId: 'acme', traceId: 'ab'.repeat(16), timestamp: T, ...over });

  it("events have currency '' and no amount, use no currency budget, and keep their fields typed", async () => {
    const s = setup(plan, 1);
    const r = await s.run([visit(1, { plan: 'pro', seconds: 30 }), visit(2), visit(3, { seconds: 0 }), visit(4, { seconds: -1 }), visit(5, { currency: 'EUR' })]);
    expect([r.accepted, r.rejected.map((x) => [x.ref, x.reason, x.issues[0]!.message])]).toEqual([
      3,
      [
        [3, 'schema_violation', 'seconds must be at least 0'],
        [4, 'schema_violation', 'Unrecognized key: "currency"'],
      ],
    ]);
    expect(s.sunk.map((e) => [e.currency, e.amount, e.fields])).toEqual([
      ['', undefined, { plan: 'pro', seconds: 30 }],
      ['', undefined, {}],
      ['', undefined, { seconds: 0 }],
    ]);
  });
});
