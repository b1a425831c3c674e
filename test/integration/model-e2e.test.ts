/**
 * models/saas.yaml end to end, embedded: a seeded random stream of every event type (plans,
 * more countries than the budget, events without a country, duplicates, out-of-order events
 * within allowedLateness, invalid items) POSTed to /v1/events, then Query.metricSeries and
 * Query.metricBreakdown for every metric of the enum — MINUTE, HOUR and DAY, UTC and New
 * York across its DST change, `where` filters, breakdowns by plan and by country (top N +
 * other), formulas — against a brute-force computation from the accepted events
 * (test/helpers/saas-truth.ts), each request ONE ClickHouse read. TILECAST_TEST_SEED replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillStore } from '../../src/storage/backfill-store.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { COUNTRIES, expectBreakdown, expectSeries, saasStream, truthOf, type Expected, type Filter, type SaasItem, type Shape, type Truth } from '../helpers/saas-truth.ts';
import { readsOf } from '../helpers/reads.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';

const LATENESS = 10_000;
const MIN = 60_000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 1, 4, 40); // New York falls back at 06:00Z
const SPAN = 3 * HOUR;
const TENANTS = ['acme', 'globex'];
const SEED = testSeed();
const { items, accepted } = saasStream({ seed: SEED, tenants: TENANTS, count: 3000, start: START, spanMs: SPAN, latenessMs: LATENESS });
const truth: Truth = truthOf(accepted);

let now = START;
let t: TestApp;
const tokens: Record<string, string> = {};

async function post(batch: SaasItem[]) {
  const byTenant = new Map<string, SaasItem[]>();
  for (const item of batch) byTenant.set(item.postAs, [...(byTenant.get(item.postAs) ?? []), item]);
  for (const [tenant, group] of byTenant) {
    const res = await t.post(tokens[tenant]!, JSON.stringify(group.map((i) => i.body)));
    expect(res.status).toBe(202);
    const rejected = (res.json.rejected as { index: number }[]).map((x) => x.index);
    expect(rejected, JSON.stringify(res.json.rejected)).toEqual(group.flatMap((item, i) => (item.kind === 'invalid' ? [i] : [])));
    expect(res.json.accepted).toBe(group.filter((i) => i.kind === 'valid').length);
    expect(res.json.duplicates).toBe(group.filter((i) => i.kind === 'duplicate').length);
  }
}

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'model-e2e', env: { TILECAST_MODEL: 'models/saas.yaml', ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000' } });
  for (const tenant of TENANTS) tokens[tenant] = await t.token(tenant, 'admin');
  await withSeed(SEED, async () => {
    for (let i = 0; i < items.length; i += 40) {
      const batch = items.slice(i, i + 40);
      now = Math.max(now, ...batch.map((b) => b.arrival));
      await post(batch);
      await t.app.aggregator.flush();
    }
  });
  now = START + SPAN + 3 * HOUR;
  await t.app.aggregator.flush();
  await t.app.aggregator.flush();
}, 300_000);
afterAll(() => t?.app.stop());

const nyMidnights = [Date.UTC(2026, 9, 31, 4), Date.UTC(2026, 10, 1, 4), Date.UTC(2026, 10, 2, 5)];
const SHAPES: (Shape & { name: string; granularity: string; timeZone: string })[] = [
  { name: 'MINUTE UTC', granularity: 'MINUTE', timeZone: 'UTC', from: START, to: START + SPAN, bucketOf: (x) => Math.floor(x / MIN) * MIN },
  { name: 'HOUR UTC', granularity: 'HOUR', timeZone: 'UTC', from: Date.UTC(2026, 10, 1, 4), to: Date.UTC(2026, 10, 1, 8), bucketOf: (x) => Math.floor(x / HOUR) * HOUR },
  // Off whole hours: the whole hours from the hourly rollup, the partial ones from the minutes.
  { name: 'HOUR UTC 04:50–07:20', granularity: 'HOUR', timeZone: 'UTC', from: Date.UTC(2026, 10, 1, 4, 50), to: Date.UTC(2026, 10, 1, 7, 20), bucketOf: (x) => Math.floor(x / HOUR) * HOUR },
  { name: 'HOUR Kolkata', granularity: 'HOUR', timeZone: 'Asia/Kolkata', from: Date.UTC(2026, 10, 1, 4, 30), to: Date.UTC(2026, 10, 1, 7, 30), bucketOf: (x) => Math.floor((x - 30 * MIN) / HOUR) * HOUR + 30 * MIN },
  { name: 'DAY UTC', granularity: 'DAY', timeZone: 'UTC', from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 2), bucketOf: (x) => Math.floor(x / (24 * HOUR)) * 24 * HOUR },
  { name: 'DAY New York', granularity: 'DAY', timeZone: 'America/New_York', from: nyMidnights[0]!, to: nyMidnights[2]!, bucketOf: (x) => nyMidnights.filter((m) => m <= x).at(-1)! },
  { name: 'DAY New York 04:25Z–07:05Z', granularity: 'DAY', timeZone: 'America/New_York', from: Date.UTC(2026, 10, 1, 4, 25), to: Date.UTC(2026, 10, 1, 7, 5), bucketOf: (x) => nyMidnights.filter((m) => m <= x).at(-1)! },
];

interface Got {
  slice?: string | null;
  other?: boolean;
  total: string | null;
  points: { start: string; value: string | null }[];
}
const SERIES = 'slice other total points { start value }';
const gqlWhere = (w: readonly Filter[]) => `[${w.map((f) => `{ dimension: ${f.dimension.toUpperCase()}${f.in ? `, in: ${JSON.stringify(f.in)}` : ''}${f.notIn ? `, notIn: ${JSON.stringify(f.notIn)}` : ''} }`).join(', ')}]`;

function check(label: string, got: Got, want: Expected) {
  for (const p of got.points) expect(p.value, `${label} at ${p.start}`).toBe(want.at(Date.parse(p.start)));
  expect(got.total, `${label} total`).toBe(want.total);
}

/** Runs one GraphQL request and asserts it cost one ClickHouse read: the dashboard's `metric_series.read`, nothing else. */
async function request<T>(tenant: string, fields: string[], alongside?: () => Promise<unknown>): Promise<T> {
  const { result: [res], reads } = await readsOf(t.app.metrics.clickhouseQueries, () => Promise.all([t.gql<T>(tokens[tenant]!, `{ ${fields.join('\n')} }`), alongside?.()]));
  expect(res.errors).toBeUndefined();
  expect(reads, 'ClickHouse reads of one request').toEqual({ 'metric_series.read': 1 });
  return res.data!;
}

const METRICS: { metric: string; currency?: string }[] = [
  { metric: 'trials' },
  { metric: 'new_subscriptions' },
  { metric: 'new_subscriptions', currency: 'EUR' },
  { metric: 'trial_conversions' },
  { metric: 'renewals' },
  { metric: 'churns' },
  { metric: 'gross_revenue', currency: 'USD' },
  { metric: 'gross_revenue', currency: 'GBP' },
  { metric: 'refunds', currency: 'USD' },
  { metric: 'net_revenue', currency: 'USD' },
  { metric: 'net_revenue', currency: 'EUR' },
  { metric: 'paying_users' },
  { metric: 'paying_users', currency: 'USD' },
  { metric: 'arppu', currency: 'USD' },
  { metric: 'trial_to_paid' },
];

describe('models/saas.yaml end to end (embedded, HTTP)', () => {
  it('generated a stream of the required shape', () => {
    const kinds = (k: SaasItem['kind']) => items.filter((i) => i.kind === k).length;
    expect([kinds('duplicate') > 50, kinds('invalid') > 20]).toEqual([true, true]);
    for (const tenant of TENANTS) expect(new Set(accepted.filter((e) => e.tenantId === tenant).map((e) => e.country)).size).toBeGreaterThan(55);
    expect(truth.rows.get('gross_revenue')!.some((r) => r.dims.country === '__other__')).toBe(true);
  });

  describe.each(SHAPES)('$name: every metric equals the brute force', (shape) => {
    it.each(TENANTS)('tenant %s', (tenant) =>
      withSeed(SEED, async () => {
        const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: ${shape.granularity}, timeZone: "${shape.timeZone}"`;
        const fields = METRICS.map((m, i) => `s${i}: metricSeries(input: { metric: ${m.metric.toUpperCase()}${m.currency ? `, currency: "${m.currency}"` : ''}, ${range} }) { ${SERIES} }`);
        const data = await request<Record<string, Got>>(tenant, fields);
        METRICS.forEach((m, i) => check(`${m.metric} ${m.currency ?? ''}`, data[`s${i}`]!, expectSeries(truth, m.metric, tenant, shape, m.currency ? [{ dimension: 'currency', in: [m.currency] }] : [])));
      }),
    );
  });

  const hourly = SHAPES[1]!;
  const minutes = SHAPES[2]!;
  const FILTERED: { metric: string; where: Filter[] }[] = [
    { metric: 'trials', where: [{ dimension: 'plan', notIn: ['starter'] }] },
    { metric: 'gross_revenue', where: [{ dimension: 'currency', in: ['USD'] }, { dimension: 'plan', in: ['pro', 'enterprise'] }, { dimension: 'country', notIn: COUNTRIES.slice(0, 20) }] },
    { metric: 'net_revenue', where: [{ dimension: 'currency', in: ['EUR'] }, { dimension: 'country', in: [...COUNTRIES.slice(3, 30), '__other__'] }] },
    { metric: 'paying_users', where: [{ dimension: 'country', in: COUNTRIES.slice(10, 40) }] },
    { metric: 'trial_to_paid', where: [{ dimension: 'plan', in: ['pro'] }] },
    { metric: 'arppu', where: [{ dimension: 'currency', in: ['USD'] }, { dimension: 'plan', notIn: ['starter'] }] },
  ];
  it.each([hourly, minutes])('where filters, $name', (shape) =>
    withSeed(SEED, async () => {
      for (const tenant of TENANTS) {
        const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: ${shape.granularity}, timeZone: "${shape.timeZone}"`;
        const fields = FILTERED.map((f, i) => `f${i}: metricSeries(input: { metric: ${f.metric.toUpperCase()}, where: ${gqlWhere(f.where)}, ${range} }) { ${SERIES} }`);
        const data = await request<Record<string, Got>>(tenant, fields);
        FILTERED.forEach((f, i) => check(`${f.metric} ${JSON.stringify(f.where)}`, data[`f${i}`]!, expectSeries(truth, f.metric, tenant, shape, f.where)));
      }
    }),
  );

  const BREAKDOWNS: { metric: string; by: string; top: number; where: Filter[] }[] = [
    { metric: 'gross_revenue', by: 'plan', top: 2, where: [{ dimension: 'currency', in: ['USD'] }] },
    { metric: 'trials', by: 'plan', top: 3, where: [] },
    { metric: 'trials', by: 'country', top: 8, where: [] },
    { metric: 'paying_users', by: 'country', top: 5, where: [{ dimension: 'plan', notIn: ['starter'] }] },
    { metric: 'net_revenue', by: 'country', top: 6, where: [{ dimension: 'currency', in: ['USD'] }] },
    { metric: 'net_revenue', by: 'plan', top: 1, where: [{ dimension: 'currency', in: ['EUR'] }] },
    { metric: 'trial_to_paid', by: 'plan', top: 2, where: [] },
    { metric: 'arppu', by: 'country', top: 4, where: [{ dimension: 'currency', in: ['GBP'] }] },
  ];
  it.each([hourly, minutes, SHAPES[4]!])('breakdowns by plan and by country: top N, then other, $name', (shape) =>
    withSeed(SEED, async () => {
      for (const tenant of TENANTS) {
        const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: ${shape.granularity}, timeZone: "${shape.timeZone}"`;
        const fields = BREAKDOWNS.map((b, i) => `b${i}: metricBreakdown(input: { metric: ${b.metric.toUpperCase()}, by: ${b.by.toUpperCase()}, top: ${b.top}, where: ${gqlWhere(b.where)}, ${range} }) { slices { ${SERIES} } }`);
        const data = await request<Record<string, { slices: Got[] }>>(tenant, fields);
        BREAKDOWNS.forEach((b, i) => {
          const label = `${b.metric} by ${b.by} top ${b.top} ${tenant}`;
          const want = expectBreakdown(truth, b.metric, tenant, shape, b.where, b.by, b.top);
          const got = data[`b${i}`]!.slices;
          const named = got.filter((s) => !s.other);
          expect(named.map((s) => s.slice), `${label} slices`).toEqual(want.slices.map((s) => s.slice));
          named.forEach((s, k) => check(`${label} ${s.slice}`, s, want.slices[k]!.expected));
          const other = got.filter((s) => s.other);
          expect(other.length, `${label} one other slice at most, last`).toBeLessThanOrEqual(1);
          if (other.length) {
            expect([got.at(-1)!.other, other[0]!.slice]).toEqual([true, 'other']);
            check(`${label} other`, other[0]!, want.other);
          } else expect(want.other.total === '0' || want.other.total === null, `${label}: no other slice, yet the brute force has ${want.other.total}`).toBe(true);
        });
      }
    }),
  );

  it('a breakdown by currency lists every currency by code', () =>
    withSeed(SEED, async () => {
      const shape = hourly;
      const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: HOUR`;
      const data = await request<Record<string, { slices: Got[] }>>('acme', [`g: metricBreakdown(input: { metric: GROSS_REVENUE, by: CURRENCY, ${range} }) { slices { ${SERIES} } }`, `n: metricBreakdown(input: { metric: NET_REVENUE, by: CURRENCY, ${range} }) { slices { ${SERIES} } }`]);
      for (const key of ['g', 'n']) {
        expect(data[key]!.slices.map((s) => s.slice)).toEqual(['EUR', 'GBP', 'USD']);
        for (const s of data[key]!.slices) check(`${key} ${s.slice}`, s, expectSeries(truth, key === 'g' ? 'gross_revenue' : 'net_revenue', 'acme', shape, [{ dimension: 'currency', in: [s.slice!] }]));
      }
    }),
  );

  // The CI failure this reproduces: the coverage feed's 5-s poll landed inside a request and
  // was counted as the request's second read. Here a background read runs during every request.
  it('a background loop reading while a request runs is not counted as the request\'s read', async () => {
    const store = createBackfillStore(t.app.db);
    // A range no earlier request asked for, so the series cache cannot answer it without a read.
    const shape = { ...hourly, from: hourly.from + HOUR };
    const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: HOUR`;
    const data = await request<Record<string, Got>>('acme', [`s: metricSeries(input: { metric: TRIALS, ${range} }) { ${SERIES} }`], () => store.loadCoverage(['trials@1']));
    check('trials', data.s!, expectSeries(truth, 'trials', 'acme', shape, []));
  });
});

