/**
 * Issue 2, done-when 2–4: 20,000+ events over several tenants through POST /v1/events
 * (duplicates, out-of-order, late and invalid items) → every MINUTE/HOUR/DAY bucket
 * of every metric (UTC and America/New_York across the 2026-11-01 DST change) equals
 * the ground truth computed by the test; invalid items are dead letters; a
 * graphql-ws subscriber sees partial → final (→ correction) per window with rising
 * revisions and nothing of other tenants; 12 aliased series cost one ClickHouse read.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { ALL_METRICS, generateDataset, groundTruth, valueOf, type Item, type Metric } from '../helpers/dataset.ts';
import { waitFor } from '../helpers/wait.ts';
import { readsById } from '../helpers/reads.ts';

const LATENESS = 10_000;
const START = Date.UTC(2026, 9, 31, 21, 0); // 2026-10-31T21:00Z: crosses UTC midnight and New York's fall-back day
const SPAN = 11 * 3_600_000;
const TENANTS = ['acme', 'globex', 'initech'];
const MIN = 60_000;
const HOUR = 3_600_000;
// New York local midnights around the data, written out by hand (EDT = UTC−4 until 2026-11-01T06:00Z, then EST = UTC−5).
const NY_MIDNIGHTS = [Date.UTC(2026, 9, 30, 4), Date.UTC(2026, 9, 31, 4), Date.UTC(2026, 10, 1, 4), Date.UTC(2026, 10, 2, 5)];
const nyDay = (t: number) => NY_MIDNIGHTS.filter((m) => m <= t).at(-1)!;

const { items, events } = generateDataset({
  seed: 20261101,
  tenants: TENANTS,
  currencies: ['USD', 'EUR', 'JPY'],
  // initech alone also sells in GBP, so a leak of its updates to acme would be visible.
  currenciesOf: (t) => (t === 'initech' ? ['USD', 'EUR', 'JPY', 'GBP'] : ['USD', 'EUR', 'JPY']),
  count: 20_400,
  start: START,
  spanMs: SPAN,
  allowedLatenessMs: LATENESS,
});

let now = START;
let t: TestApp;
const tokens: Record<string, string> = {};
const received: { metric: Metric; currency: string; windowStart: string; value: string; final: boolean; revision: number; kind: string }[] = [];
let ws: Client;
/** acme windows whose first write must be PARTIAL: the watermark after their first batch was still before their end. */
const expectPartialFirst = new Set<string>();

async function postBatch(batch: Item[], index: number) {
  const byTenant = new Map<string, Item[]>();
  for (const item of batch) byTenant.set(item.postAs, [...(byTenant.get(item.postAs) ?? []), item]);
  for (const [tenant, group] of byTenant) {
    const ndjson = index % 3 === 0 || group.some((i) => typeof i.body === 'string');
    const body = ndjson
      ? group.map((i) => (typeof i.body === 'string' ? i.body : JSON.stringify(i.body))).join('\n')
      : JSON.stringify(group.map((i) => i.body));
    const res = await t.post(tokens[tenant]!, body, ndjson ? 'application/x-ndjson' : 'application/json');
    expect(res.status).toBe(202);
    const rejected = res.json.rejected as { index: number; reason: string }[];
    const expected = group.flatMap((item, i) => (item.kind === 'invalid' ? [{ index: i, reason: item.expectedReason! }] : []));
    expect(rejected.map(({ index: i, reason }) => ({ index: i, reason }))).toEqual(expected);
    // `accepted` = counted now, `duplicates` = exact repeats (each arrives after its original).
    expect(res.json.accepted).toBe(group.filter((i) => i.kind === 'valid').length);
    expect(res.json.duplicates).toBe(group.filter((i) => i.kind === 'duplicate').length);
  }
}

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'e2e', env: { ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000' } });
  // The test drives flushes itself (after every batch) so the watermark it models is exactly the engine's:
  // a timer flush while the test clock jumps between batches would see an idle source and advance by the clock.
  for (const tenant of TENANTS) tokens[tenant] = await t.token(tenant);
  ws = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${tokens.acme}` } });
  await new Promise<void>((resolve, reject) => {
    let subscribed = false;
    ws.subscribe(
      { query: 'subscription { windows(metrics: [PURCHASES, REVENUE, ACTIVE_USERS]) { metric currency windowStart value final revision kind } }' },
      {
        next: (m) => {
          received.push((m.data as { windows: (typeof received)[number] }).windows);
        },
        error: reject,
        complete: () => undefined,
      },
    );
    // graphql-ws acknowledges the connection before the subscription is registered: wait for the ack, then give it a round-trip.
    ws.on('connected', () => {
      subscribed = true;
      resolve();
    });
    setTimeout(() => (subscribed ? undefined : reject(new Error('websocket did not connect'))), 10_000);
  });

  // ~30 events ≈ one minute of event time per batch, like a producer flushing every second or so:
  // windows are written partial first, then final once the watermark passes them.
  const BATCH = 30;
  const firstSeen = new Set<string>();
  let watermark = 0;
  for (let i = 0; i * BATCH < items.length; i++) {
    const batch = items.slice(i * BATCH, (i + 1) * BATCH);
    now = batch.at(-1)!.arrival;
    // The engine's watermark after this batch: newest event time fed so far − lateness.
    const valid = batch.filter((x) => x.kind === 'valid').map((x) => x.body as { tenantId: string; currency: string; timestamp: number });
    for (const e of valid) watermark = Math.max(watermark, e.timestamp - LATENESS);
    for (const e of valid.filter((x) => x.tenantId === 'acme')) {
      const start = Math.floor(e.timestamp / MIN) * MIN;
      const key = `${e.currency}|${new Date(start).toISOString()}`;
      if (firstSeen.has(key)) continue;
      firstSeen.add(key);
      if (start + MIN > watermark) expectPartialFirst.add(key);
    }
    await postBatch(batch, i);
    await t.app.aggregator.flush();
  }
  // Everything has arrived; let the watermark pass every window.
  now = START + SPAN + 3 * HOUR;
  await t.app.aggregator.flush();
  await t.app.aggregator.flush();
}, 300_000);

afterAll(async () => {
  await ws?.dispose();
  await t?.app.stop();
});

describe('embedded end-to-end', () => {
  it('generated a dataset of the required shape', () => {
    expect(events.length).toBeGreaterThanOrEqual(20_000);
    const kinds = (k: Item['kind']) => items.filter((i) => i.kind === k).length;
    expect(kinds('duplicate') / events.length).toBeCloseTo(0.02, 2);
    expect(kinds('invalid') / events.length).toBeCloseTo(0.01, 2);
    expect(new Set(events.map((e) => e.currency))).toContain('JPY');
    const users = new Map<string, Set<number>>();
    for (const e of events) users.set(e.userId, (users.get(e.userId) ?? new Set()).add(Math.floor(e.timestamp / HOUR)));
    expect([...users.values()].some((hours) => hours.size > 3)).toBe(true); // users repeat across windows
    expect(items.filter((i) => i.kind === 'valid' && i.arrival - (i.body as { timestamp: number }).timestamp > LATENESS).length).toBeGreaterThan(50);
  });

  const shapes = [
    { name: 'MINUTE', granularity: 'MINUTE', timeZone: 'UTC', from: START, to: START + SPAN, bucketOf: (x: number) => Math.floor(x / MIN) * MIN },
    { name: 'HOUR UTC', granularity: 'HOUR', timeZone: 'UTC', from: START - HOUR, to: START + SPAN + HOUR, bucketOf: (x: number) => Math.floor(x / HOUR) * HOUR },
    { name: 'HOUR New York', granularity: 'HOUR', timeZone: 'America/New_York', from: START - HOUR, to: START + SPAN + HOUR, bucketOf: (x: number) => Math.floor(x / HOUR) * HOUR },
    { name: 'DAY UTC', granularity: 'DAY', timeZone: 'UTC', from: Date.UTC(2026, 9, 31), to: Date.UTC(2026, 10, 2), bucketOf: (x: number) => Math.floor(x / (24 * HOUR)) * 24 * HOUR },
    { name: 'DAY New York', granularity: 'DAY', timeZone: 'America/New_York', from: NY_MIDNIGHTS[1]!, to: NY_MIDNIGHTS[3]!, bucketOf: nyDay },
  ] as const;

  describe.each(shapes)('$name buckets equal the ground truth', (shape) => {
    it.each(TENANTS)('tenant %s, every metric and currency', async (tenant) => {
      const combos = ALL_METRICS.flatMap((metric) => [...['USD', 'EUR', 'JPY'].map((c) => ({ metric, currency: c as string | null })), ...(metric === 'REVENUE' ? [] : [{ metric, currency: null }])]);
      const fields = combos.map(
        (c, i) =>
          `s${i}: series(input: { metric: ${c.metric}, ${c.currency ? `currency: "${c.currency}", ` : ''}from: $from, to: $to, granularity: ${shape.granularity}, timeZone: "${shape.timeZone}" }) { total points { start value final } }`,
      );
      const res = await t.gql<Record<string, { total: string; points: { start: string; value: string; final: boolean }[] }>>(
        tokens[tenant]!,
        `query($from: DateTime!, $to: DateTime!) { ${fields.join('\n')} }`,
        { from: new Date(shape.from).toISOString(), to: new Date(shape.to).toISOString() },
      );
      expect(res.errors).toBeUndefined();
      combos.forEach((c, i) => {
        const truth = groundTruth(events, tenant, c.currency, shape.bucketOf);
        const series = res.data![`s${i}`]!;
        const got = new Map(series.points.map((p) => [Date.parse(p.start), p.value]));
        for (const [bucket, acc] of truth.buckets) expect(got.get(bucket), `${c.metric} ${c.currency} ${new Date(bucket).toISOString()}`).toBe(valueOf(acc, c.metric));
        for (const [bucket, value] of got) if (!truth.buckets.has(bucket)) expect(value, `${c.metric} ${c.currency} empty ${new Date(bucket).toISOString()}`).toBe('0');
        expect(series.total, `${c.metric} ${c.currency} total`).toBe(valueOf(truth.total, c.metric));
        // A bucket is final once the watermark (now − lateness) has passed its end.
        const watermark = now - LATENESS;
        series.points.forEach((p, k) => {
          const end = k + 1 < series.points.length ? Date.parse(series.points[k + 1]!.start) : shape.to;
          expect(p.final, `${c.metric} ${p.start} final`).toBe(end <= watermark);
        });
      });
    });
  });

  it('DAY buckets in New York follow the DST change (a 25-hour Nov 1)', async () => {
    const res = await t.gql<{ s: { points: { start: string }[] } }>(
      tokens.acme!,
      `{ s: series(input: { metric: PURCHASES, from: "2026-10-31T04:00:00Z", to: "2026-11-03T05:00:00Z", granularity: DAY, timeZone: "America/New_York" }) { points { start } } }`,
    );
    expect(res.data!.s.points.map((p) => p.start)).toEqual(['2026-10-31T04:00:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
  });

  it('keeps every invalid item as a dead letter with its reason and raw payload', async () => {
    const rows = await t.app.db.query({
      queryId: 'test.dead_letters',
      sql: 'SELECT tenant_id, reason, count() AS n FROM dead_letters GROUP BY tenant_id, reason ORDER BY tenant_id, reason',
      row: z.object({ tenant_id: z.string(), reason: z.string(), n: z.coerce.number() }),
    });
    const expected = new Map<string, number>();
    for (const i of items.filter((x) => x.kind === 'invalid')) expected.set(`${i.postAs}/${i.expectedReason}`, (expected.get(`${i.postAs}/${i.expectedReason}`) ?? 0) + 1);
    expect(new Map(rows.map((r) => [`${r.tenant_id}/${r.reason}`, r.n]))).toEqual(expected);
    const [raw] = await t.app.db.query({
      queryId: 'test.dead_letters_raw',
      sql: "SELECT raw FROM dead_letters WHERE reason = 'invalid_json' LIMIT 1",
      row: z.object({ raw: z.string() }),
    });
    expect(raw!.raw).toContain('"eventType": "purchase"');
  });

  it('pushes partial then final (then corrections) per window, revisions rising, only the subscriber’s tenant', async () => {
    const truth = new Map<string, ReturnType<typeof groundTruth>>();
    for (const c of ['USD', 'EUR', 'JPY']) truth.set(c, groundTruth(events, 'acme', c, (x) => Math.floor(x / MIN) * MIN));
    const expectedWindows = [...truth].flatMap(([c, g]) => [...g.buckets.keys()].map((b) => `${c}|${b}`));
    const latest = () => {
      const m = new Map<string, (typeof received)[number]>();
      for (const u of received.filter((x) => x.metric === 'PURCHASES')) m.set(`${u.currency}|${Date.parse(u.windowStart)}`, u);
      return m;
    };
    await waitFor(() => expectedWindows.every((w) => latest().get(w)?.final), { timeoutMs: 30_000, what: 'final updates for every window' });

    expect(received.some((u) => u.currency === 'GBP')).toBe(false); // initech's currency never reaches acme
    const byWindow = new Map<string, (typeof received)[number][]>();
    for (const u of received) byWindow.set(`${u.metric}|${u.currency}|${u.windowStart}`, [...(byWindow.get(`${u.metric}|${u.currency}|${u.windowStart}`) ?? []), u]);
    for (const [key, updates] of byWindow) {
      const revisions = updates.map((u) => u.revision);
      expect(revisions, key).toEqual([...revisions].sort((a, b) => a - b));
      expect(new Set(revisions).size, key).toBe(revisions.length);
      const [metric, currency, start] = key.split('|') as [Metric, string, string];
      expect(updates.map((u) => u.kind).join(' '), key).toMatch(/^(PARTIAL )*FINAL( CORRECTION)*$/);
      if (expectPartialFirst.has(`${currency}|${start}`)) expect(updates[0]!.kind, key).toBe('PARTIAL');
      expect(updates.at(-1)!.value, key).toBe(valueOf(truth.get(currency)!.buckets.get(Date.parse(start)), metric));
    }
    expect(byWindow.size).toBe(expectedWindows.length * 3);
    expect(expectPartialFirst.size / expectedWindows.length).toBeGreaterThan(0.8); // most windows are seen open first
    expect(received.some((u) => u.kind === 'CORRECTION')).toBe(true);
  });

  it('answers a 12-tile dashboard query with exactly one ClickHouse read', async () => {
    const reads = async () => Object.values(await readsById(t.app.metrics.clickhouseQueries)).reduce((s, n) => s + n, 0);
    const tiles = [...ALL_METRICS.map((m) => [m, 'USD']), ...ALL_METRICS.map((m) => [m, 'JPY'])];
    const query = `{ ${tiles.map(([m, c], i) => `t${i}: series(input: { metric: ${m}, currency: "${c}", from: "2026-10-31T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: ${i % 2 ? 'HOUR' : 'DAY'} }) { total freshness { isStale } }`).join('\n')} }`;
    const before = await reads();
    const res = await t.gql<Record<string, { total: string }>>(tokens.acme!, query);
    expect(res.errors).toBeUndefined();
    expect(Object.keys(res.data!)).toHaveLength(12);
    expect((await reads()) - before).toBe(1);
  });
});
