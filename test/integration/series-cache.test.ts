/**
 * The series cache on models/saas.yaml, embedded: the answers of metricSeries and
 * metricBreakdown with the cache (cold, then warm from memory, open edge included) equal
 * the brute force over the accepted events (test/helpers/saas-truth.ts) — the same
 * answers the uncached reader gives (model-e2e.test.ts) — and so do they after late
 * events correct hours the cache holds (window updates of kind `correction` over the
 * in-process bus drop those entries) and after live events land in the open edge (their
 * updates drop the kept edges). Each request is at most one ClickHouse read.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { COUNTRIES, expectBreakdown, expectSeries, saasStream, truthOf, type Shape, type Truth } from '../helpers/saas-truth.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';

const LATENESS = 10_000;
const MIN = 60_000;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 1, 4, 40);
const SPAN = 3 * HOUR;
const TENANTS = ['acme', 'globex'];
const SEED = testSeed();
const { items, accepted } = saasStream({ seed: SEED, tenants: TENANTS, count: 1500, start: START, spanMs: SPAN, latenessMs: LATENESS });
/** Late events into hours the cache holds by then: corrections of final windows. */
const late = Array.from({ length: 12 }, (_, i) => ({
  eventId: randomUUID(),
  eventType: i % 3 === 0 ? 'trial_started' : 'subscription_started',
  userId: `late${i}`,
  tenantId: TENANTS[i % 2]!,
  traceId: 'ef'.repeat(16),
  timestamp: START + 20 * MIN + i * 7 * MIN,
  currency: 'USD',
  plan: 'pro',
  country: COUNTRIES[i]!,
  ...(i % 3 === 0 ? {} : { amount: `${100 + i}.5`, from_trial: true }),
}));

let now = START;
let t: TestApp;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'series-cache', env: { TILECAST_MODEL: 'models/saas.yaml', ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000', SERIES_CACHE_MAX_AGE_MS: '3600000', SERIES_CACHE_MB: process.env.X_OFF ? '0' : '64' } });
  for (const tenant of TENANTS) tokens[tenant] = await t.token(tenant, 'admin');
  for (let i = 0; i < items.length; i += 100) {
    const batch = items.slice(i, i + 100);
    now = Math.max(now, ...batch.map((b) => b.arrival));
    for (const tenant of TENANTS) {
      const mine = batch.filter((b) => b.postAs === tenant);
      if (mine.length) expect((await t.post(tokens[tenant]!, JSON.stringify(mine.map((b) => b.body)))).status).toBe(202);
    }
    await t.app.aggregator.flush();
  }
  // The watermark ends inside the last hour: queries to the end of the span have an open edge.
  now = START + SPAN - 20 * MIN;
  await t.app.aggregator.flush();
  // Versions still being backfilled are never kept: wait until the API knows every one is complete (polled coverage).
  const all = METRICS.map((m, i) => `c${i}: metricSeries(input: { metric: ${m.metric.toUpperCase()}${m.currency ? `, currency: "${m.currency}"` : ''}, from: "${new Date(START).toISOString()}", to: "${new Date(START + HOUR).toISOString()}", granularity: HOUR }) { complete }`);
  await waitFor(
    async () => {
      const res = await t.gql<Record<string, { complete: boolean }>>(tokens.acme!, `{ ${all.join('\n')} }`);
      return res.data && Object.values(res.data).every((s) => s.complete);
    },
    { timeoutMs: 60_000, what: 'every metric version backfilled' },
  );
}, 300_000);
afterAll(() => t?.app.stop());

const SHAPES: (Shape & { name: string; granularity: string })[] = [
  { name: 'MINUTE', granularity: 'MINUTE', from: START, to: START + SPAN, bucketOf: (x) => Math.floor(x / MIN) * MIN },
  { name: 'HOUR', granularity: 'HOUR', from: Date.UTC(2026, 10, 1, 4), to: Date.UTC(2026, 10, 1, 8), bucketOf: (x) => Math.floor(x / HOUR) * HOUR },
  { name: 'DAY', granularity: 'DAY', from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 2), bucketOf: (x) => Math.floor(x / (24 * HOUR)) * 24 * HOUR },
];
const METRICS = [
  { metric: 'trials' },
  { metric: 'new_subscriptions', currency: 'USD' },
  { metric: 'gross_revenue', currency: 'USD' },
  { metric: 'net_revenue', currency: 'EUR' },
  { metric: 'paying_users' },
  { metric: 'arppu', currency: 'USD' },
  { metric: 'trial_to_paid' },
];
const BREAKDOWNS = [
  { metric: 'trials', by: 'country', top: 5 },
  { metric: 'gross_revenue', by: 'plan', top: 2, currency: 'USD' },
];

interface Got {
  slice?: string | null;
  total: string | null;
  points: { start: string; value: string | null }[];
}
const SERIES = 'slice total points { start value }';

/** Series reads so far (background reads, e.g. the backfill coverage poll, are not the request's). */
const reads = async () => (await t.app.metrics.clickhouseQueries.get()).values.filter((v) => v.labels.query_id === 'metric_series.read').reduce((s, v) => s + v.value, 0);
const lookups = async () => Object.fromEntries((await t.app.metrics.registry.getSingleMetric('tilecast_series_cache_lookups_total')!.get()).values.map((v) => [v.labels.outcome, v.value]));

/** The dashboard of one tenant and shape, asserted against `truth`; at most one ClickHouse read. */
async function dashboard(tenant: string, shape: (typeof SHAPES)[number], truth: Truth): Promise<number> {
  const range = `from: "${new Date(shape.from).toISOString()}", to: "${new Date(shape.to).toISOString()}", granularity: ${shape.granularity}`;
  const fields = [
    ...METRICS.map((m, i) => `s${i}: metricSeries(input: { metric: ${m.metric.toUpperCase()}${m.currency ? `, currency: "${m.currency}"` : ''}, ${range} }) { ${SERIES} }`),
    ...BREAKDOWNS.map((b, i) => `b${i}: metricBreakdown(input: { metric: ${b.metric.toUpperCase()}, by: ${b.by.toUpperCase()}, top: ${b.top}${b.currency ? `, currency: "${b.currency}"` : ''}, ${range} }) { slices { ${SERIES} } }`),
    `c: metricBreakdown(input: { metric: GROSS_REVENUE, by: CURRENCY, ${range} }) { slices { ${SERIES} } }`,
  ];
  // Series and breakdowns in two requests, each at most one read.
  const request = async (part: string[]) => {
    const before = await reads();
    const res = await t.gql<Record<string, Got & { slices: Got[] }>>(tokens[tenant]!, `{ ${part.join('\n')} }`);
    expect(res.errors).toBeUndefined();
    const n = (await reads()) - before;
    expect(n, 'ClickHouse reads of one request').toBeLessThanOrEqual(1);
    return { n, data: res.data! };
  };
  const [a, b] = [await request(fields.slice(0, METRICS.length)), await request(fields.slice(METRICS.length))];
  const res = { data: { ...a.data, ...b.data } };
  const n = a.n + b.n;
  const check = (label: string, got: Got, want: { at: (b: number) => string | null; total: string | null }) => {
    for (const p of got.points) expect(p.value, `${label} at ${p.start}`).toBe(want.at(Date.parse(p.start)));
    expect(got.total, `${label} total`).toBe(want.total);
  };
  const currency = (c?: string) => (c ? [{ dimension: 'currency', in: [c] }] : []);
  METRICS.forEach((m, i) => check(`${shape.name} ${tenant} ${m.metric}`, res.data![`s${i}`]!, expectSeries(truth, m.metric, tenant, shape, currency(m.currency))));
  BREAKDOWNS.forEach((b, i) => {
    const want = expectBreakdown(truth, b.metric, tenant, shape, currency(b.currency), b.by, b.top);
    const named = res.data![`b${i}`]!.slices.filter((s) => s.slice !== 'other');
    expect(named.map((s) => s.slice)).toEqual(want.slices.map((s) => s.slice));
    named.forEach((s, k) => check(`${shape.name} ${tenant} ${b.metric} by ${b.by} ${s.slice}`, s, want.slices[k]!.expected));
  });
  for (const s of res.data!.c!.slices) check(`${shape.name} ${tenant} revenue ${s.slice}`, s, expectSeries(truth, 'gross_revenue', tenant, shape, currency(s.slice!)));
  return n;
}

describe('series cache on models/saas.yaml (embedded)', () => {
  it('cold, warm, and after corrections of cached hours: every answer equals the brute force', () =>
    withSeed(SEED, async () => {
      const truth = truthOf(accepted);
      for (const shape of SHAPES) for (const tenant of TENANTS) await dashboard(tenant, shape, truth);
      const cold = await lookups();
      for (const shape of SHAPES) for (const tenant of TENANTS) await dashboard(tenant, shape, truth);
      const warm = await lookups();
      // Nothing changed between the rounds: the second round's split queries came from memory, open edge included.
      expect((warm.hit ?? 0) - (cold.hit ?? 0)).toBeGreaterThan(0);

      // Late events into hours now held by the cache: written as corrections, their updates drop those entries.
      for (const tenant of TENANTS) expect((await t.post(tokens[tenant]!, JSON.stringify(late.filter((e) => e.tenantId === tenant)))).status).toBe(202);
      await t.app.aggregator.flush();
      const corrected = truthOf([...accepted, ...late]);
      for (const shape of SHAPES) for (const tenant of TENANTS) await dashboard(tenant, shape, corrected);
      for (const shape of SHAPES) for (const tenant of TENANTS) await dashboard(tenant, shape, corrected);
      const drops = (await t.app.metrics.registry.getSingleMetric('tilecast_series_cache_drops_total')!.get()).values.find((v) => v.labels.reason === 'update');
      expect(drops?.value ?? 0).toBeGreaterThan(0);

      // Live events into the open edge (after the watermark): their updates drop the kept edges, and the next answers have them.
      const watermark = t.app.freshness.watermark();
      const fresh = late.map((e, i) => ({ ...e, eventId: randomUUID(), userId: i % 2 ? `fresh${i}` : e.userId, timestamp: watermark + 1_000 + i * 100 }));
      for (const tenant of TENANTS) expect((await t.post(tokens[tenant]!, JSON.stringify(fresh.filter((e) => e.tenantId === tenant)))).json).toMatchObject({ accepted: 6, rejected: [] });
      await t.app.aggregator.flush();
      const live = truthOf([...accepted, ...late, ...fresh]);
      for (const shape of SHAPES) for (const tenant of TENANTS) await dashboard(tenant, shape, live);
    }),
  );
});
