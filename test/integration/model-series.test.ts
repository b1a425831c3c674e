/**
 * Model metrics read from the narrow tables (migrations/0010) through the GraphQL generated
 * from models/saas.yaml (plus a version 2 of `trials`): rows are inserted here directly
 * (`metric_windows_input`, whose view fills metric_windows, and `metric_windows_hourly`),
 * and every expected value is worked out by hand from them. Series per metric and
 * version, `where` in / notIn, breakdowns by plan (top N + other) and by currency, formulas
 * (net revenue, ARPPU, trial-to-paid with division by zero → null) with totals as ratios of
 * totals, a comparison period, clear errors, and ONE ClickHouse read for a request mixing all of them.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { readsById } from '../helpers/reads.ts';
import { createMetricSeriesReader } from '../../src/storage/metric-series-reader.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const H0 = Date.UTC(2026, 10, 20, 10); // 2026-11-20T10:00Z
const TENANT = 'saas-acme';
const iso = (t: number) => new Date(t).toISOString();

// saas.yaml with trials v2 (by plan only); trial_to_paid keeps dividing by trials v1.
const text = readFileSync('models/saas.yaml', 'utf8').replace('formula: trial_conversions / trials', 'formula: trial_conversions / trials@1') +
  '  - { name: trials, version: 2, unit: count, description: Trials started by plan., count: true, where: { eventType: trial_started }, by: [plan] }\n';
const compiled = compileModel(text);
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const plan = compiled.plan;

let t: TestApp;
let token: string;

const row = (metric: string, minute: number, dims: string[], slice: string, value: string, o: { version?: number; users?: string[]; rv?: number } = {}) => ({
  tenant_id: TENANT,
  metric,
  metric_version: o.version ?? 1,
  window_start: (H0 + minute * MIN) / 1000,
  dims,
  slice,
  revision: o.rv ?? 1,
  final: 1,
  value,
  users: o.users ?? [],
  last_event_at_ms: H0 + minute * MIN,
  source: 'http',
  row_version: o.rv ?? 1,
});

async function hourly(metric: string, hour: number, dims: string[], value: string, users: string[] = []) {
  await t.app.db.command({
    queryId: 'test.hourly',
    sql: `INSERT INTO metric_windows_hourly (tenant_id, metric, metric_version, hour_start, dims, final, value, users, last_event_at_ms, minutes, row_version)
          SELECT {t:String}, {m:String}, 1, fromUnixTimestamp64Milli({h:Int64}, 'UTC'), {d:Array(String)}, 1, toDecimal128({v:String}, 6), arrayReduce('uniqExactState', {u:Array(String)}), {h:Int64}, 60, 1`,
    params: { t: TENANT, m: metric, h: H0 + hour * HOUR, d: dims, v: value, u: users },
  });
}

/** ClickHouse reads so far, without the background loops' (test/helpers/reads.ts). */
async function reads(): Promise<number> {
  return Object.values(await readsById(t.app.metrics.clickhouseQueries)).reduce((s, n) => s + n, 0);
}

beforeAll(async () => {
  t = await startTestApp({ label: 'model-series', clock: () => H0 + 24 * HOUR, app: { plan } });
  token = await t.token(TENANT, 'read');
  await t.app.db.insert({
    queryId: 'test.metric_windows',
    table: 'metric_windows_input',
    rows: [
      // trials v1 by [plan, country]; a cell has one row per base window's currency (slice): they add up.
      row('trials', 0, ['starter', 'DE'], 'USD', '1', { rv: 1 }),
      row('trials', 0, ['starter', 'DE'], 'USD', '2', { rv: 2 }), // a later snapshot of the same cell: FINAL keeps it
      row('trials', 0, ['starter', 'DE'], 'EUR', '1'),
      row('trials', 40, ['pro', 'US'], 'USD', '4'),
      row('trials', 45, ['enterprise', 'FR'], 'USD', '1'),
      row('trials', 50, ['pro', ''], 'USD', '1'), // no country: a null slice
      row('trials', 0, ['starter'], 'USD', '10', { version: 2 }),
      row('trials', 40, ['pro'], 'USD', '5', { version: 2 }),
      row('trial_conversions', 40, ['pro', 'US'], 'USD', '2'),
      row('trial_conversions', 45, ['enterprise', 'FR'], 'USD', '1'),
      row('trial_conversions', 100, ['pro', 'US'], 'USD', '1'),
      row('gross_revenue', 0, ['USD', 'starter', 'DE'], 'USD', '10.5'),
      row('gross_revenue', 1, ['USD', 'pro', 'US'], 'USD', '20.25'),
      row('gross_revenue', 40, ['EUR', 'pro', 'FR'], 'EUR', '7.000001'),
      row('gross_revenue', 41, ['USD', 'enterprise', 'US'], 'USD', '100'),
      row('gross_revenue', 100, ['USD', 'pro', 'DE'], 'USD', '0.000001'),
      row('refunds', 5, ['USD', 'pro', 'US'], 'USD', '5.25'),
      row('refunds', 45, ['EUR', 'pro', 'FR'], 'EUR', '1'),
      row('paying_users', 0, ['USD', 'starter', 'DE'], 'USD', '0', { users: ['u1', 'u2'] }),
      row('paying_users', 1, ['USD', 'pro', 'US'], 'USD', '0', { users: ['u2', 'u3'] }),
      row('paying_users', 40, ['EUR', 'pro', 'FR'], 'EUR', '0', { users: ['u1'] }),
      row('paying_users', 41, ['USD', 'enterprise', 'US'], 'USD', '0', { users: ['u1', 'u4'] }),
    ],
  });
  await hourly('gross_revenue', 5, ['USD', 'pro', 'US'], '1.5');
  await hourly('gross_revenue', 6, ['USD', 'pro', 'US'], '2.5');
  await hourly('paying_users', 5, ['USD', 'pro', 'US'], '0', ['a', 'b']);
  await hourly('paying_users', 6, ['USD', 'pro', 'US'], '0', ['b', 'c']);
}, 120_000);
afterAll(() => t?.app.stop());

// Kolkata hours (+05:30) over [H0 − 30 min, H0 + 150 min): three buckets, off whole UTC hours, so read from the minutes.
const RANGE = `from: "${iso(H0 - 30 * MIN)}", to: "${iso(H0 + 150 * MIN)}", granularity: HOUR, timeZone: "Asia/Kolkata"`;
const SERIES = 'metric version unit currency slice other total points { start value final }';

interface Series {
  metric: string;
  version: number;
  currency: string | null;
  slice: string | null;
  other: boolean;
  total: string | null;
  points: { start: string; value: string | null }[];
}
type Of<K extends string, T = Series> = Record<K, T>;
type Breakdown = { by: string; slices: Series[] };
const values = (s: Series) => s.points.map((p) => p.value);

async function query<T>(q: string) {
  const res = await t.gql<T>(token, `{ ${q} }`);
  return res;
}

describe('model series from metric_windows', () => {
  it('one series per metric and version: slices added, the latest snapshot kept', async () => {
    const res = await query<Of<'v1' | 'v2' | 'users'>>(`
      v1: metricSeries(input: { metric: TRIALS, version: 1, ${RANGE} }) { ${SERIES} }
      v2: metricSeries(input: { metric: TRIALS, ${RANGE} }) { ${SERIES} }
      users: metricSeries(input: { metric: PAYING_USERS, currency: "USD", ${RANGE} }) { ${SERIES} }`);
    expect(res.errors).toBeUndefined();
    const { v1, v2, users } = res.data!;
    expect(v1.points.map((p) => p.start)).toEqual([iso(H0 - 30 * MIN), iso(H0 + 30 * MIN), iso(H0 + 90 * MIN)]);
    expect([v1.version, values(v1), v1.total]).toEqual([1, ['3', '6', '0'], '9']);
    expect([v2.version, values(v2), v2.total]).toEqual([2, ['10', '5', '0'], '15']);
    // Distinct users merge: {u1,u2,u3}, {u1,u4}, and 4 over the range (not 5).
    expect([values(users), users.total, users.currency]).toEqual([['3', '2', '0'], '4', 'USD']);
  });

  it('where: in and notIn on the dimensions the metric stores', async () => {
    const res = await query<Of<'notStarter' | 'both' | 'proUsd'>>(`
      notStarter: metricSeries(input: { metric: TRIALS, version: 1, where: [{ dimension: PLAN, notIn: ["starter"] }], ${RANGE} }) { ${SERIES} }
      both: metricSeries(input: { metric: TRIALS, version: 1, where: [{ dimension: PLAN, in: ["pro", "enterprise"] }, { dimension: COUNTRY, notIn: ["US"] }], ${RANGE} }) { ${SERIES} }
      proUsd: metricSeries(input: { metric: GROSS_REVENUE, currency: "USD", where: [{ dimension: PLAN, in: ["pro"] }], ${RANGE} }) { ${SERIES} }`);
    expect(res.errors).toBeUndefined();
    const { notStarter, both, proUsd } = res.data!;
    expect([values(notStarter), notStarter.total]).toEqual([['0', '6', '0'], '6']);
    expect([values(both), both.total]).toEqual([['0', '2', '0'], '2']); // enterprise FR and pro without a country
    expect([values(proUsd), proUsd.total]).toEqual([['20.25', '0', '0.000001'], '20.250001']);
  });

  it('formulas per bucket and over totals (ratio of totals); division by zero gives null', async () => {
    const res = await query<Of<'net' | 'arppu' | 'ratio'>>(`
      net: metricSeries(input: { metric: NET_REVENUE, currency: "USD", ${RANGE} }) { ${SERIES} }
      arppu: metricSeries(input: { metric: ARPPU, currency: "USD", ${RANGE} }) { ${SERIES} }
      ratio: metricSeries(input: { metric: TRIAL_TO_PAID, ${RANGE} }) { ${SERIES} }`);
    expect(res.errors).toBeUndefined();
    const { net, arppu, ratio } = res.data!;
    expect([values(net), net.total]).toEqual([['25.5', '100', '0.000001'], '125.500001']);
    // 125.500001 / 4 = 31.37500025 → 31.375 (6 digits, half-even); 0.000001 / 0 users → null.
    expect([values(arppu), arppu.total]).toEqual([['8.5', '50', null], '31.375']);
    // 0/3, 3/6, 1/0 → null; the total is 4/9, not a sum of the points.
    expect([values(ratio), ratio.total]).toEqual([['0', '0.5', null], '0.444444']);
  });

  it('breakdown by plan: the top N by total, then one other slice (distinct users merged in it, never added)', async () => {
    const res = await query<Of<'revenue' | 'country' | 'users' | 'net', Breakdown>>(`
      revenue: metricBreakdown(input: { metric: GROSS_REVENUE, currency: "USD", by: PLAN, top: 1, ${RANGE} }) { by slices { ${SERIES} } }
      country: metricBreakdown(input: { metric: TRIALS, version: 1, by: COUNTRY, top: 2, ${RANGE} }) { by slices { ${SERIES} } }
      users: metricBreakdown(input: { metric: PAYING_USERS, currency: "USD", by: PLAN, top: 1, ${RANGE} }) { by slices { ${SERIES} } }
      net: metricBreakdown(input: { metric: NET_REVENUE, currency: "USD", by: PLAN, top: 2, ${RANGE} }) { by slices { ${SERIES} } }`);
    expect(res.errors).toBeUndefined();
    const { revenue, country, users, net } = res.data!;
    const slices = (b: { slices: Series[] }) => b.slices.map((s) => [s.slice, s.other, s.total]);
    expect(revenue.by).toBe('PLAN');
    expect(slices(revenue)).toEqual([['enterprise', false, '100'], ['other', true, '30.750001']]);
    expect(revenue.slices[1]!.points.map((p) => p.value)).toEqual(['30.75', '0', '0.000001']);
    expect(slices(country)).toEqual([['US', false, '4'], ['DE', false, '3'], ['other', true, '2']]); // FR and the null slice folded
    // Every plan has 2 users (ties by value): enterprise first; starter ∪ pro = {u1, u2, u3}.
    expect(slices(users)).toEqual([['enterprise', false, '2'], ['other', true, '3']]);
    // A formula's slices follow its first operand's ranking (gross revenue).
    expect(slices(net)).toEqual([['enterprise', false, '100'], ['pro', false, '15.000001'], ['other', true, '10.5']]);
  });

  it('breakdown by currency: every currency, by code, each with its own currency', async () => {
    const res = await query<Of<'gross' | 'net', Breakdown>>(`
      gross: metricBreakdown(input: { metric: GROSS_REVENUE, by: CURRENCY, top: 1, ${RANGE} }) { slices { ${SERIES} } }
      net: metricBreakdown(input: { metric: NET_REVENUE, by: CURRENCY, ${RANGE} }) { slices { ${SERIES} } }`);
    expect(res.errors).toBeUndefined();
    const { gross, net } = res.data!;
    expect(gross.slices.map((s) => [s.slice, s.currency, s.total])).toEqual([['EUR', 'EUR', '7.000001'], ['USD', 'USD', '130.750001']]);
    expect(net.slices.map((s) => [s.slice, s.total])).toEqual([['EUR', '6.000001'], ['USD', '125.500001']]);
  });

  it('hour-aligned ranges read metric_windows_hourly: a day merges its hours’ users', async () => {
    const range = (g: string) => `from: "${iso(H0 + 5 * HOUR)}", to: "${iso(H0 + 7 * HOUR)}", granularity: ${g}`;
    const res = await query<Of<'users' | 'arppu' | 'day'>>(`
      users: metricSeries(input: { metric: PAYING_USERS, currency: "USD", ${range('HOUR')} }) { ${SERIES} }
      arppu: metricSeries(input: { metric: ARPPU, currency: "USD", ${range('HOUR')} }) { ${SERIES} }
      day: metricSeries(input: { metric: PAYING_USERS, currency: "USD", ${range('DAY')} }) { ${SERIES} }`);
    expect(res.errors).toBeUndefined();
    const { users, arppu, day } = res.data!;
    expect([values(users), users.total]).toEqual([['2', '2'], '3']);
    expect([values(arppu), arppu.total]).toEqual([['0.75', '1.25'], '1.333333']);
    expect([values(day), day.total]).toEqual([['3'], '3']);
  });

  it('compareTo: the comparison period from the same table, change and changeRatio exact; null totals give null', async () => {
    // Kolkata hours from H0 + 30 min: the previous period is the 30 min-offset hour before, bucket A of RANGE.
    const range = `from: "${iso(H0 + 30 * MIN)}", to: "${iso(H0 + 90 * MIN)}", granularity: HOUR, timeZone: "Asia/Kolkata", compareTo: PREVIOUS_PERIOD`;
    const res = await query<Of<'net' | 'ratio', Series & { comparison: { from: string; total: string | null; change: string | null; changeRatio: string | null; points: { value: string | null }[] } }>>(`
      net: metricSeries(input: { metric: NET_REVENUE, currency: "USD", ${range} }) { total comparison { from total change changeRatio points { value } } }
      ratio: metricSeries(input: { metric: TRIAL_TO_PAID, ${range} }) { total comparison { total change changeRatio } }`);
    expect(res.errors).toBeUndefined();
    const { net, ratio } = res.data!;
    expect(net.total).toBe('100');
    expect(net.comparison).toEqual({ from: iso(H0 - 30 * MIN), total: '25.5', change: '74.5', changeRatio: '2.921569', points: [{ value: '25.5' }] });
    expect(ratio.total).toBe('0.5');
    expect(ratio.comparison).toEqual({ total: '0', change: '0.5', changeRatio: null });
  });

  it('a request mixing metrics, versions, filters, formulas and breakdowns is ONE ClickHouse read', async () => {
    const before = await reads();
    const res = await query<Record<string, unknown>>(`
      a: metricSeries(input: { metric: TRIALS, version: 1, ${RANGE}, compareTo: PREVIOUS_PERIOD }) { total comparison { total } }
      b: metricSeries(input: { metric: TRIALS, version: 2, ${RANGE} }) { total }
      c: metricSeries(input: { metric: TRIALS, version: 1, where: [{ dimension: PLAN, notIn: ["starter"] }], ${RANGE} }) { total }
      d: metricSeries(input: { metric: TRIAL_TO_PAID, ${RANGE} }) { total }
      e: metricBreakdown(input: { metric: PAYING_USERS, currency: "USD", by: PLAN, ${RANGE} }) { slices { total } }
      f: metricBreakdown(input: { metric: NET_REVENUE, by: CURRENCY, ${RANGE} }) { slices { total } }
      g: metricSeries(input: { metric: ARPPU, currency: "USD", from: "${iso(H0 + 5 * HOUR)}", to: "${iso(H0 + 7 * HOUR)}", granularity: DAY }) { total }`);
    expect(res.errors).toBeUndefined();
    expect(await reads()).toBe(before + 1);
    expect(res.data).toMatchObject({ a: { total: '9', comparison: { total: '0' } }, b: { total: '15' }, c: { total: '6' }, d: { total: '0.444444' }, g: { total: '1.333333' } });
  });

  it('refuses what cannot be answered, saying why', async () => {
    const error = async (input: string, field = 'metricSeries') => {
      const res = await query(`x: ${field}(input: { ${input}, ${RANGE} }) { ${field === 'metricSeries' ? 'total' : 'slices { total }'} }`);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      return res.errors![0]!.message;
    };
    expect(await error('metric: GROSS_REVENUE')).toMatch(/gross_revenue is money: .*one currency/);
    expect(await error('metric: NET_REVENUE, where: [{ dimension: CURRENCY, in: ["USD", "EUR"] }]')).toMatch(/net_revenue is money/);
    expect(await error('metric: GROSS_REVENUE, by: PLAN', 'metricBreakdown')).toMatch(/money/);
    expect(await error('metric: TRIALS, where: [{ dimension: CURRENCY, in: ["USD"] }]')).toMatch(/trials v2 cannot be filtered by currency: it is stored by plan/);
    expect(await error('metric: TRIAL_TO_PAID, by: CURRENCY', 'metricBreakdown')).toMatch(/cannot be broken down by currency/);
    expect(await error('metric: GROSS_REVENUE, currency: "USD", where: [{ dimension: CURRENCY, in: ["USD"] }]')).toMatch(/either as `currency` or in `where`/);
    expect(await error('metric: TRIALS, version: 9')).toMatch(/trials has no version 9 \(versions: 1, 2\)/);
  });

  it('returns the merged users of totals and asked-for buckets as keys that union exactly across a split (keysAt)', async () => {
    const reader = createMetricSeriesReader(t.app.db);
    const base = { granularity: 'HOUR' as const, timeZone: 'UTC', metric: 'paying_users', version: 1, distinct: true, filters: [], breakdown: null };
    const q = (table: string, from: number, to: number, keysAt: number[]) => ({ ...base, table, from, to, keysAt });
    // Minutes 0–41: u1 u2 | u2 u3 | u1 | u1 u4; split at minute 40 inside hour H0.
    const { results } = await reader.read(TENANT, [q('metric_windows', H0, H0 + 40 * MIN, [H0]), q('metric_windows', H0 + 40 * MIN, H0 + HOUR, [H0]), q('metric_windows_hourly', H0 + 5 * HOUR, H0 + 7 * HOUR, [H0 + 6 * HOUR])]);
    const [a, b, hours] = results.map((r) => r.get('')!);
    expect([a!.total!.value, b!.total!.value, a!.total!.keys!.size, b!.total!.keys!.size]).toEqual(['3', '2', 3, 2]);
    expect(new Set([...a!.buckets.get(H0)!.keys!, ...b!.buckets.get(H0)!.keys!]).size).toBe(4);
    // Hourly states (a b | b c): the asked-for bucket and the total carry keys, the other bucket not.
    expect([hours!.total!.keys!.size, hours!.buckets.get(H0 + 6 * HOUR)!.keys!.size, hours!.buckets.get(H0 + 5 * HOUR)!.keys]).toEqual([3, 2, undefined]);
    // Without keysAt no keys come back.
    const plain = (await reader.read(TENANT, [{ ...base, table: 'metric_windows', from: H0, to: H0 + HOUR }])).results[0]!.get('')!;
    expect([plain.total!.value, plain.total!.keys]).toEqual(['4', undefined]);
  });
});

