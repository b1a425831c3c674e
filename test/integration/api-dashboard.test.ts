/**
 * Issue 5: what dashboards ask for, against a ground truth computed here — WEEK and MONTH
 * buckets in New York across the DST change, a comparison period, revenue by currency,
 * ARPU and net user change from exact values — all in ONE ClickHouse read; a leap day
 * against the previous year; the metric catalog; dead letters page by page.
 */
import { print } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTilecastClient } from '../../examples/client/client.ts';
import { ExampleDashboardDocument } from '../../examples/client/generated/graphql.ts';
import type { Granularity } from '../../src/contracts/metrics.ts';
import { bucketStart } from '../../src/resolvers/buckets.ts';
import { DashboardDocument, DeadLetterPageDocument, LeapDayDocument, MetricCatalogDocument } from '../generated/graphql.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { formatMicros, generateDataset, groundTruth, valueOf, type GeneratedEvent } from '../helpers/dataset.ts';
import { readsOf as readsDuring } from '../helpers/reads.ts';

const NY = 'America/New_York';
const START = Date.UTC(2026, 9, 12, 4); // Mon 2026-10-12 00:00 New York
const SPAN = 35 * 86_400_000; // five weeks, across the 2026-11-01 fall-back
const { items, events } = generateDataset({
  seed: 5,
  tenants: ['acme'],
  currencies: ['USD', 'EUR'],
  count: 4_000,
  start: START,
  spanMs: SPAN,
  allowedLatenessMs: 10_000,
  usersPerTenant: 150,
  duplicateRate: 0,
  invalidRate: 0,
  lateRate: 0,
});
const at = (s: string) => Date.parse(s);
let now = START + SPAN + 3_600_000;
let t: TestApp;
let token: string;

type Acc = NonNullable<ReturnType<typeof groundTruth>['buckets'] extends Map<number, infer A> ? A : never>;
const micros = (s: string) => {
  const [w = '0', f = ''] = s.split('.');
  return BigInt(w) * 1_000_000n + BigInt(f.padEnd(6, '0'));
};
/** Independent of src/: a / b to 6 digits, ties to even, for positive BigInt micro-units. */
function arpu(a: Acc | undefined): string {
  if (!a || a.users.size === 0) return '0';
  const num = micros(valueOf(a, 'REVENUE'));
  const den = BigInt(a.users.size);
  const q = num / den;
  const r2 = 2n * (num % den);
  return formatMicros(r2 > den || (r2 === den && q % 2n === 1n) ? q + 1n : q);
}
const netChange = (a: Acc | undefined) => String((a?.signups ?? 0) - (a?.churns ?? 0));

/** Sends a generated, typed document (test/operations/api.graphql → test/generated/). */
async function typed<R, V extends Record<string, unknown>>(tok: string, doc: TypedDocumentNode<R, V>, variables?: V) {
  return t.gql<R>(tok, print(doc), variables);
}

/** The reads `run` caused, by query id (without the background loops': test/helpers/reads.ts). */
async function readsOf(run: () => Promise<unknown>): Promise<Record<string, number>> {
  return (await readsDuring(t.app.metrics.clickhouseQueries, run)).reads;
}

beforeAll(async () => {
  t = await startTestApp({ label: 'dashboard', clock: () => now, env: { FLUSH_INTERVAL_MS: '3600000' } });
  token = await t.token('acme', 'admin');
  const ingest = await t.token('acme', 'ingest');
  for (let i = 0; i < items.length; i += 1000) {
    const res = await t.post(ingest, JSON.stringify(items.slice(i, i + 1000).map((x) => x.body)));
    expect(res.json).toMatchObject({ rejected: [] });
    await t.app.aggregator.flush();
  }
  // Leap tenant: the days around 29 Feb 2028 and the same dates in 2027.
  const leapIngest = await t.token('leap', 'ingest');
  const leap = (iso: string, n: number): GeneratedEvent[] =>
    Array.from({ length: n }, (_, i) => ({ eventType: 'purchase', userId: `l${i}`, tenantId: 'leap', amount: '1.25', currency: 'USD', traceId: `${'c'.repeat(30)}${String(i).padStart(2, '0')}`, timestamp: at(iso) + i * 60_000 }));
  for (const batch of [[...leap('2027-02-27T10:00:00Z', 1), ...leap('2027-02-28T10:00:00Z', 2), ...leap('2027-03-01T10:00:00Z', 3)], [...leap('2028-02-28T10:00:00Z', 4), ...leap('2028-02-29T10:00:00Z', 5), ...leap('2028-03-01T10:00:00Z', 6)]]) {
    expect((await t.post(leapIngest, JSON.stringify(batch))).json).toMatchObject({ accepted: batch.length });
    await t.app.aggregator.flush();
  }
  now = at('2028-03-10T00:00:00Z');
  await t.app.aggregator.flush();
}, 300_000);
afterAll(() => t?.app.stop());

interface SeriesOut {
  total: string;
  points: { start: string; value: string }[];
  comparison: { from: string; to: string; total: string; change: string; changeRatio: string | null; points: { start: string; value: string }[] } | null;
}
const expectSeries = (got: { total: string; points: { start: string; value: string }[] }, truth: ReturnType<typeof groundTruth>, value: (a: Acc | undefined) => string, what: string) => {
  for (const p of got.points) expect(p.value, `${what} ${p.start}`).toBe(value(truth.buckets.get(Date.parse(p.start))));
  for (const b of truth.buckets.keys()) expect(got.points.some((p) => Date.parse(p.start) === b), `${what} bucket ${new Date(b).toISOString()} listed`).toBe(true);
  expect(got.total, `${what} total`).toBe(value(truth.total));
};

describe('a dashboard in one request', () => {
  const current = { from: START + 21 * 86_400_000 + 3_600_000, to: START + SPAN + 3_600_000 }; // Mon Nov 2 .. Mon Nov 16, New York midnights (EST)
  const inRange = (r: { from: number; to: number }) => events.filter((e) => e.timestamp >= r.from && e.timestamp < r.to);
  const truth = (r: { from: number; to: number }, currency: string | null, g: Granularity) => groundTruth(inRange(r), 'acme', currency, (x) => bucketStart(x, g, NY));
  let data: Record<'revenue' | 'users' | 'weekly' | 'monthly' | 'arpu' | 'net', SeriesOut> & { byCurrency: { slices: ({ currency: string } & SeriesOut)[] } };
  const variables = { from: new Date(current.from).toISOString(), to: new Date(current.to).toISOString(), weeksFrom: new Date(START).toISOString(), timeZone: NY };
  let readsUsed: Record<string, number> = {};

  beforeAll(async () => {
    readsUsed = await readsOf(async () => {
      const res = await typed(token, DashboardDocument, variables);
      expect(res.errors).toBeUndefined();
      data = res.data! as typeof data;
    });
  });

  it('costs exactly one ClickHouse read', () => expect(readsUsed).toEqual({ 'metric_series.read': 1 }));

  it('series and its comparison period equal the ground truth (14 local days each, DST inside)', () => {
    const prev = { from: at('2026-10-19T04:00:00Z'), to: current.from }; // the 14 local days before
    expect([data.revenue.comparison!.from, data.revenue.comparison!.to]).toEqual([new Date(prev.from).toISOString(), new Date(prev.to).toISOString()]);
    expect(data.revenue.points).toHaveLength(14);
    expect(data.revenue.comparison!.points).toHaveLength(14);
    const cur = truth(current, 'USD', 'DAY');
    const old = truth(prev, 'USD', 'DAY');
    expectSeries(data.revenue, cur, (a) => valueOf(a, 'REVENUE'), 'revenue');
    expectSeries(data.revenue.comparison!, old, (a) => valueOf(a, 'REVENUE'), 'revenue before');
    expect(data.revenue.comparison!.change).toBe(formatMicros(micros(valueOf(cur.total, 'REVENUE')) - micros(valueOf(old.total, 'REVENUE'))).replace(/^(-?)0*(\d)/, '$1$2'));
    const users = truth(current, null, 'DAY');
    const usersBefore = truth(prev, null, 'DAY');
    expectSeries(data.users, users, (a) => valueOf(a, 'ACTIVE_USERS'), 'users');
    expectSeries(data.users.comparison!, usersBefore, (a) => valueOf(a, 'ACTIVE_USERS'), 'users before');
    const u = users.total.users.size;
    const b = usersBefore.total.users.size;
    expect(data.users.comparison!.change).toBe(String(u - b));
    expect(Number(data.users.comparison!.changeRatio)).toBeCloseTo((u - b) / b, 6);
  });

  it('WEEK buckets start on New York Mondays; the DST week is 169 hours', () => {
    expectSeries(data.weekly, truth({ from: START, to: START + SPAN + 3_600_000 }, null, 'WEEK'), (a) => valueOf(a, 'PURCHASES'), 'weekly');
    const starts = data.weekly.points.map((p) => Date.parse(p.start));
    expect(starts.map((s) => new Date(s).toISOString())).toEqual([
      '2026-10-12T04:00:00.000Z',
      '2026-10-19T04:00:00.000Z',
      '2026-10-26T04:00:00.000Z',
      '2026-11-02T05:00:00.000Z',
      '2026-11-09T05:00:00.000Z',
    ]);
    expect((starts[3]! - starts[2]!) / 3_600_000).toBe(169);
  });

  it('MONTH buckets merge distinct users over the month', () => {
    expect(data.monthly.points.map((p) => p.start)).toEqual(['2026-10-01T04:00:00.000Z', '2026-11-01T04:00:00.000Z']);
    expectSeries(data.monthly, groundTruth(events, 'acme', 'EUR', (x) => bucketStart(x, 'MONTH', NY)), (a) => valueOf(a, 'ACTIVE_USERS'), 'monthly');
  });

  it('ARPU and net user change come from exact values', () => {
    expectSeries(data.arpu, truth(current, 'EUR', 'DAY'), arpu, 'arpu');
    expect(data.arpu.points.some((p) => /\.\d{3,}/.test(p.value))).toBe(true); // really divides
    expectSeries(data.net, truth(current, null, 'WEEK'), netChange, 'net');
  });

  it('serves series, derivedSeries, breakdown, metricSeries and metricBreakdown together from one read, alike', async () => {
    const range = 'from: $from, to: $to, granularity: DAY, timeZone: $timeZone';
    const query = `query Mixed($from: DateTime!, $to: DateTime!, $timeZone: String!) {
      s: series(input: { metric: REVENUE, currency: "USD", ${range} }) { total version complete incompleteBefore points { start value traceIds } }
      ms: metricSeries(input: { metric: REVENUE, currency: "USD", ${range} }) { total points { value } }
      d: derivedSeries(input: { metric: ARPU, currency: "EUR", ${range} }) { total points { value } }
      f: series(input: { metric: ARPU, where: [{ dimension: CURRENCY, in: ["EUR"] }], ${range} }) { total }
      md: metricSeries(input: { metric: ARPU, currency: "EUR", ${range} }) { total }
      b: breakdown(input: { metric: PURCHASES, ${range} }) { by slices { currency total } }
      mb: metricBreakdown(input: { metric: PURCHASES, by: CURRENCY, ${range} }) { slices { currency total } }
    }`;
    type Out = { total: string; points: { start: string; value: string; traceIds: string[] }[]; version: number; complete: boolean; incompleteBefore: string | null };
    type Slices = { by?: string; slices: { currency: string; total: string }[] };
    let res!: Awaited<ReturnType<typeof t.gql<{ s: Out; ms: Out; d: Out; f: Out; md: Out; b: Slices; mb: Slices }>>>;
    expect(await readsOf(async () => (res = await t.gql(token, query, { from: variables.from, to: variables.to, timeZone: NY })))).toEqual({ 'metric_series.read': 1 });
    expect(res.errors).toBeUndefined();
    const { s, ms, d, f, md, b, mb } = res.data!;
    expect(s).toMatchObject({ total: valueOf(truth(current, 'USD', 'DAY').total, 'REVENUE'), version: 1 });
    // Complete once the background backfill has walked the log (its coverage is polled): either way, consistently.
    expect(s.complete).toBe(s.incompleteBefore === null || Date.parse(s.incompleteBefore) <= current.from);
    expect(ms.total).toBe(s.total);
    expect(ms.points.map((p) => p.value)).toEqual(s.points.map((p) => p.value));
    expect(d.total).toBe(arpu(truth(current, 'EUR', 'DAY').total));
    expect([f.total, md.total]).toEqual([d.total, d.total]);
    expect(b.by).toBe('CURRENCY');
    expect(b.slices).toEqual(mb.slices);
    expect(b.slices.map((x) => x.currency)).toEqual(['EUR', 'USD']);
    // Trace samples come in the same read: ids of USD events of the bucket's day, at most 5.
    const sampled = s.points.filter((p) => p.traceIds.length > 0);
    expect(sampled.length).toBeGreaterThan(0);
    for (const p of sampled) {
      const day = inRange(current).filter((e) => e.currency === 'USD' && bucketStart(e.timestamp, 'DAY', NY) === Date.parse(p.start));
      expect(p.traceIds.length).toBeLessThanOrEqual(5);
      for (const id of p.traceIds) expect(day.map((e) => e.traceId), `${p.start} ${id}`).toContain(id);
    }
  });

  it('breaks revenue down by currency', () => {
    expect(data.byCurrency.slices.map((s) => s.currency)).toEqual(['EUR', 'USD']);
    for (const s of data.byCurrency.slices) expectSeries(s, truth(current, s.currency, 'DAY'), (a) => valueOf(a, 'REVENUE'), `breakdown ${s.currency}`);
  });
});

describe('the example client (examples/client)', () => {
  it('gets a fully typed dashboard in one request', async () => {
    const request = createTilecastClient({ url: `${t.url}/graphql`, token });
    const data = await request(ExampleDashboardDocument, { currency: 'USD', from: '2026-11-02T05:00:00Z', to: '2026-11-16T05:00:00Z', timeZone: NY });
    expect(data.revenue.total).toBe(data.revenueByCurrency.slices.find((s) => s.currency === 'USD')!.total);
    expect(data.revenue.comparison?.changeRatio).toMatch(/^-?\d+(\.\d+)?$/);
    await expect(createTilecastClient({ url: `${t.url}/graphql`, token: 'nope' })(ExampleDashboardDocument, { currency: 'USD', from: '2026-11-02T05:00:00Z', to: '2026-11-16T05:00:00Z', timeZone: NY })).rejects.toMatchObject({
      status: 401,
      codes: ['UNAUTHENTICATED'],
    });
  });
});

describe('leap day', () => {
  it('compares 28 Feb – 1 Mar 2028 with the same dates of 2027', async () => {
    const res = await typed(await t.token('leap', 'read'), LeapDayDocument);
    expect(res.errors).toBeUndefined();
    const { s, m } = res.data!;
    expect(s.points).toEqual([
      { start: '2028-02-28T00:00:00.000Z', value: '4' },
      { start: '2028-02-29T00:00:00.000Z', value: '5' },
      { start: '2028-03-01T00:00:00.000Z', value: '6' },
    ]);
    expect([s.comparison!.from, s.comparison!.to]).toEqual(['2027-02-28T00:00:00.000Z', '2027-03-02T00:00:00.000Z']);
    expect(s.comparison!.points).toEqual([
      { start: '2027-02-28T00:00:00.000Z', value: '2' },
      { start: '2027-03-01T00:00:00.000Z', value: '3' },
    ]);
    expect(m.total).toBe('11.25'); // 9 purchases of 1.25 in the 29-day February
    expect(m.comparison).toEqual({ from: '2027-02-01T00:00:00.000Z', to: '2027-03-01T00:00:00.000Z', total: '3.75' });
  });
});

describe('limits and catalog', () => {
  it('refuses a series with too many points, saying how to fix it', async () => {
    const res = await t.gql(token, '{ series(input: { metric: PURCHASES, from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", granularity: HOUR }) { total } }');
    expect(res.errors![0]!.message).toMatch(/limit 10000 per series\): use a coarser granularity \(DAY or coarser\), or shorten the range to at most 416 days at HOUR/);
    expect(res.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('lists every metric’s current definition', async () => {
    const res = await typed(token, MetricCatalogDocument);
    expect(res.data!.metrics.map((m) => m.name)).toEqual(['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS', 'ARPU', 'NET_USER_CHANGE']);
    expect(res.data!.metrics.find((m) => m.name === 'ARPU')!).toMatchObject({ kind: 'FORMULA', dimensions: ['currency'], definition: expect.stringMatching(/half to even/) });
    expect(res.data!.metrics.find((m) => m.name === 'REVENUE')!).toMatchObject({ kind: 'SUM', unit: 'currency', dimensions: ['currency'] });
    for (const m of res.data!.metrics) expect(m.complete, m.name).toBe(m.incompleteBefore === null);
  });
});

describe('dead letters', () => {
  it('pages newest first behind an opaque cursor, filtered by reason, admins only', async () => {
    const ingest = await t.token('ops', 'ingest');
    const bad = (i: number) => ({ eventType: 'purchase', userId: `u${i}`, tenantId: i % 3 ? 'ops' : 'other', currency: 'USD', amount: i % 3 ? 'x' : '1', traceId: 'd'.repeat(32), timestamp: now });
    for (let k = 0; k < 5; k++) await t.post(ingest, JSON.stringify(Array.from({ length: 5 }, (_, i) => bad(k * 5 + i))));
    const admin = await t.token('ops', 'admin');
    const page = (after: string | null, reason?: string) => typed(admin, DeadLetterPageDocument, { first: 10, after, reason });
    const seen: { node: { id: string; receivedAt: string } }[] = [];
    let after: string | null = null;
    const sizes: number[] = [];
    do {
      const res: Awaited<ReturnType<typeof page>> = await page(after);
      expect(res.errors).toBeUndefined();
      sizes.push(res.data!.deadLetters.edges.length);
      seen.push(...res.data!.deadLetters.edges);
      after = res.data!.deadLetters.pageInfo.hasNextPage ? res.data!.deadLetters.pageInfo.endCursor : null;
    } while (after);
    expect(sizes).toEqual([10, 10, 5]);
    expect(new Set(seen.map((e) => e.node.id)).size).toBe(25);
    const times = seen.map((e) => Date.parse(e.node.receivedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const mismatches = (await page(null, 'tenant_mismatch')).data!.deadLetters.edges;
    expect(mismatches.map((e) => e.node.reason)).toEqual(Array(9).fill('tenant_mismatch'));
    expect(mismatches[0]!.node.rawExcerpt).toContain('"tenantId":"other"');
    expect((await page('bogus')).errors![0]!.message).toMatch(/not a cursor from this API/);
    expect((await t.gql(await t.token('ops', 'read'), '{ deadLetters { edges { cursor } } }')).errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect((await t.gql(admin, '{ deadLetters(first: 0) { edges { cursor } } }')).errors![0]!.message).toMatch(/between 1 and 100/);
  });
});
