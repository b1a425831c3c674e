/**
 * The metric catalog (`Query.metrics`) from the model plan: every (name, version) with its
 * kind, dimensions and readable rule, dated from the file or from publication, and the
 * backfill state from the API's coverage feed (a formula: its least backfilled operand) —
 * executed through the real schema of each model, with storage faked and its reads counted.
 */
import { readFileSync } from 'node:fs';
import { graphql } from 'graphql';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../src/contracts/metrics.ts';
import { compileModel } from '../../src/model/compile.ts';
import type { ModelPlan } from '../../src/model/types.ts';
import { listMetrics } from '../../src/resolvers/catalog.ts';
import { DERIVED_METRICS } from '../../src/resolvers/derived.ts';
import { createRequestContext, type ApiServices } from '../../src/resolvers/context.ts';
import { buildSchema } from '../../src/schema/index.ts';
import type { StoredDefinition } from '../../src/storage/definitions.ts';

const NOW = Date.UTC(2026, 11, 3, 12);
const DAY = 86_400_000;
const SAAS = readFileSync('models/saas.yaml', 'utf8');

const compile = (text: string): ModelPlan => {
  const r = compileModel(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
};

/** SaaS with a second version of `refunds` (duplicates counted again) and a hidden operand. */
const SAAS_V2 = `${SAAS.trimEnd()}
  - name: refunds
    version: 2
    unit: currency
    description: Money paid back, duplicates included.
    effectiveFrom: 2026-12-01
    sum: amount
    where: { eventType: refund }
    by: [currency, plan, country]
  - name: renewal_count
    version: 1
    unit: count
    description: Renewals, as an operand only.
    hidden: true
    count: true
    where: { eventType: renewal }
    by: [plan]
`;

interface Entry {
  name: string;
  version: number;
  kind: string;
  dimensions: string[];
  hidden: boolean;
  current: boolean;
  derived: boolean;
  definition: string;
  effectiveFrom: string;
  supersededOn: string | null;
  complete: boolean;
  incompleteBefore: string | null;
  publishedAt?: string | null;
}

async function catalog(plan: ModelPlan, query: string, o: { coverage?: Record<string, number>; published?: StoredDefinition[] } = {}) {
  let reads = 0;
  const services = {
    plan,
    coverage: { incompleteBefore: (id: string) => o.coverage?.[id] ?? null },
    clock: () => NOW,
    publishedDefinitions: async () => {
      reads++;
      return o.published ?? [];
    },
  } satisfies Partial<ApiServices>;
  const contextValue = createRequestContext(services as unknown as ApiServices, { tenantId: 't1', scope: 'read' });
  const res = await graphql({ schema: buildSchema(plan), source: query, contextValue });
  if (res.errors) throw new Error(res.errors.map((e) => e.message).join('\n'));
  return { metrics: (res.data as { metrics: Entry[] }).metrics, reads };
}

const FIELDS = 'name version kind dimensions hidden current derived definition complete incompleteBefore';

describe('the catalog of models/saas.yaml', () => {
  const plan = compile(SAAS);

  it('lists every metric in file order with its kind and dimensions, reading nothing from storage', async () => {
    const { metrics, reads } = await catalog(plan, `{ metrics { ${FIELDS} } }`);
    expect(reads).toBe(0);
    expect(metrics.map((m) => [m.name, m.version, m.kind, m.dimensions.join(',')])).toEqual([
      ['TRIALS', 1, 'COUNT', 'plan,country'],
      ['NEW_SUBSCRIPTIONS', 1, 'COUNT', 'currency,plan,country'],
      ['TRIAL_CONVERSIONS', 1, 'COUNT', 'plan,country'],
      ['RENEWALS', 1, 'COUNT', 'currency,plan,country'],
      ['CHURNS', 1, 'COUNT', 'plan,country'],
      ['GROSS_REVENUE', 1, 'SUM', 'currency,plan,country'],
      ['REFUNDS', 1, 'SUM', 'currency,plan,country'],
      ['NET_REVENUE', 1, 'FORMULA', 'currency,plan,country'],
      ['PAYING_USERS', 1, 'DISTINCT', 'currency,plan,country'],
      ['ARPPU', 1, 'FORMULA', 'currency,plan,country'],
      ['TRIAL_TO_PAID', 1, 'FORMULA', 'plan,country'],
    ]);
    expect(metrics.every((m) => m.current && !m.hidden && m.complete && m.incompleteBefore === null)).toBe(true);
    expect(metrics.filter((m) => m.derived).map((m) => m.name)).toEqual(['NET_REVENUE', 'ARPPU', 'TRIAL_TO_PAID']);
  });

  it('writes each rule from the model: conditions, dimensions, money, pinned operands, rounding', async () => {
    const { metrics } = await catalog(plan, '{ metrics { name definition } }');
    const def = new Map(metrics.map((m) => [m.name, m.definition]));
    expect(def.get('REFUNDS')).toBe(
      'exact sum of amount where eventType = refund and reason not in (duplicate), by currency, plan, country; amounts in different currencies are never added. Per 1-minute event-time window of the tenant; an event counts once per idempotency key.',
    );
    expect(def.get('TRIALS')).toMatch(/^count of events where eventType = trial_started, by plan, country\. /);
    expect(def.get('PAYING_USERS')).toMatch(/^exact count of distinct userId where eventType in \(subscription_started, renewal\), by currency, plan, country; states merged/);
    expect(def.get('NET_REVENUE')).toBe("gross_revenue@1 - refunds@1, by currency, plan, country, in exact decimals per bucket; a total is the same formula over the operands' totals.");
    expect(def.get('TRIAL_TO_PAID')).toMatch(/^trial_conversions@1 \/ trials@1, by plan, country, .*half to even; division by zero gives null\.$/);
  });

  it('with history, every version: the old one superseded the day the new one took effect; hidden ones listed as such', async () => {
    const v2 = compile(SAAS_V2);
    const current = (await catalog(v2, `{ metrics { ${FIELDS} } }`)).metrics;
    expect(current.filter((m) => m.name === 'REFUNDS').map((m) => m.version)).toEqual([2]);
    const { metrics } = await catalog(v2, '{ metrics(history: true) { name version current hidden kind dimensions effectiveFrom supersededOn } }', {
      published: [],
    });
    const refunds = metrics.filter((m) => m.name === 'REFUNDS');
    expect(refunds.map((m) => [m.version, m.current, m.supersededOn])).toEqual([
      [1, false, '2026-12-01'],
      [2, true, null],
    ]);
    expect(metrics.find((m) => m.name === 'RENEWAL_COUNT')).toMatchObject({ hidden: true, kind: 'COUNT', dimensions: ['plan'] });
    expect(metrics).toHaveLength(13);
  });

  it('a version being backfilled is incomplete, and so is every formula reading it', async () => {
    const v2 = compile(SAAS_V2);
    const before = NOW - DAY;
    const { metrics } = await catalog(v2, `{ metrics(history: true) { ${FIELDS} } }`, { coverage: { 'refunds@2': before } });
    const state = (name: string, version = 1) => {
      const m = metrics.find((x) => x.name === name && x.version === version)!;
      return [m.complete, m.incompleteBefore];
    };
    expect(state('REFUNDS', 2)).toEqual([false, new Date(before).toISOString()]);
    expect(state('NET_REVENUE')).toEqual([false, new Date(before).toISOString()]); // pinned to refunds@2, the current one
    expect(state('ARPPU')).toEqual([false, new Date(before).toISOString()]); // through net_revenue
    expect(state('REFUNDS', 1)).toEqual([true, null]);
    expect(state('GROSS_REVENUE')).toEqual([true, null]);
    expect(state('TRIAL_TO_PAID')).toEqual([true, null]);
  });

  it('a version without effectiveFrom is dated by its publication, read only when dates are asked for', async () => {
    const published = [{ id: 'trials@1', name: 'trials', version: 1, definition: '', checksum: '', model: 'saas', publishedAt: '2026-11-20', publishedAtMs: Date.UTC(2026, 10, 20, 9) }];
    const dated = await catalog(plan, '{ metrics { name effectiveFrom publishedAt } }', { published });
    expect(dated.reads).toBe(1);
    expect(dated.metrics.find((m) => m.name === 'TRIALS')).toEqual({ name: 'TRIALS', effectiveFrom: '2026-11-20', publishedAt: '2026-11-20T09:00:00.000Z' });
    // Not yet published: it takes effect when it is, at the earliest today.
    expect(dated.metrics.find((m) => m.name === 'CHURNS')).toEqual({ name: 'CHURNS', effectiveFrom: '2026-12-03', publishedAt: null });
    expect((await catalog(plan, '{ metrics { name kind } }', { published })).reads).toBe(0);
  });
});

describe('the catalog of models/default.yaml', () => {
  const plan = compile(readFileSync('models/default.yaml', 'utf8'));

  it('keeps the built-in metrics, their dates and ARPU’s rounding rule, without a read: every entry has effectiveFrom', async () => {
    const { metrics, reads } = await catalog(plan, '{ metrics(history: true) { name version kind dimensions effectiveFrom supersededOn definition } }');
    expect(reads).toBe(0);
    expect(new Set(metrics.map((m) => m.name))).toEqual(new Set([...METRICS, ...DERIVED_METRICS])); // the Metric and DerivedMetric enums
    expect(metrics.map((m) => `${m.name}:${m.kind}`)).toEqual([
      'REVENUE:SUM', 'PURCHASES:COUNT', 'SIGNUPS:COUNT', 'UPGRADES:COUNT', 'CHURNS:COUNT', 'ACTIVE_USERS:DISTINCT', 'ARPU:FORMULA', 'NET_USER_CHANGE:FORMULA',
    ]);
    expect(metrics.every((m) => m.dimensions.join() === 'currency' && m.supersededOn === null)).toBe(true);
    expect(metrics.find((m) => m.name === 'ARPU')).toMatchObject({ effectiveFrom: '2026-11-25', definition: expect.stringMatching(/revenue@1 \/ active_users@1.*half to even; division by zero gives 0\.$/) });
    expect(metrics.find((m) => m.name === 'ACTIVE_USERS')!.definition).toMatch(/^exact count of distinct userId over events of any type, by currency;/);
    expect(metrics.find((m) => m.name === 'REVENUE')!.effectiveFrom).toBe('2026-01-01');
  });

  it('listMetrics without a publication read leaves `published` out (the schema answers null)', () => {
    const list = listMetrics({ plan, coverage: { incompleteBefore: () => null }, published: null, now: NOW }, { history: false });
    expect(list.map((m) => m.published)).toEqual(list.map(() => undefined));
  });
});
