/**
 * The model's exact hourly rollup (metric_windows_hourly): every flush recomputes the
 * hours it touched from the stored minutes, so a late correction to one minute reaches its
 * hour, distinct users merge (never add) across minutes and currencies, and hour-aligned
 * HOUR/DAY series — served from the rollup — equal the same buckets read from the minutes
 * (a range 1 minute off whole hours stays on minutes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalDecimal } from '../../src/contracts/decimal.ts';
import { createMetricWindowStore } from '../../src/storage/metric-window-store.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const LATENESS = 5_000;
const HOUR = 3_600_000;
const MIN = 60_000;
const H0 = Date.UTC(2026, 10, 20, 10); // 2026-11-20T10:00Z
const TENANT = 'rollup-t';
let now = H0;
let t: TestApp;
let token: string;
let n = 0;

const event = (minute: number, userId: string, amount: string, currency = 'USD') => ({
  eventId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  eventType: 'purchase',
  userId,
  tenantId: TENANT,
  amount,
  currency,
  traceId: 'cd'.repeat(16),
  timestamp: H0 + minute * MIN + 1_000,
});

async function send(events: ReturnType<typeof event>[], clockAt: number) {
  now = clockAt;
  const res = await t.post(token, JSON.stringify(events));
  expect(res.status).toBe(202);
  expect(res.json.accepted).toBe(events.length);
  await t.app.aggregator.flush();
}

const hourRow = z.object({ metric: z.string(), value: z.string(), users: z.coerce.number(), final: z.coerce.number(), minutes: z.coerce.number() });
/** Hour `hourStart` of the USD slice: revenue, purchases and active users as stored in the rollup. */
async function hourly(hourStart: number) {
  const rows = await t.app.db.query({
    queryId: 'test.hourly',
    sql: `SELECT metric, toString(value) AS value, finalizeAggregation(users) AS users, final, minutes FROM metric_windows_hourly FINAL
          WHERE tenant_id = {tenant:String} AND dims = ['USD'] AND hour_start = {hour:DateTime('UTC')} AND metric IN ('revenue', 'purchases', 'active_users')`,
    params: { tenant: TENANT, hour: hourStart / 1000 },
    row: hourRow,
  });
  if (rows.length === 0) return [];
  const of = (m: string) => rows.find((r) => r.metric === m)!;
  return [{ revenue: canonicalDecimal(of('revenue').value), purchases: Number(of('purchases').value), users: of('active_users').users, final: of('revenue').final, minutes: of('revenue').minutes }];
}

type P = { start: string; value: string; final: boolean };
async function series(metric: string, from: number, to: number, granularity: string, currency: string | null = 'USD') {
  const r = await t.gql<{ s: { total: string; points: P[] } }>(
    token,
    `query($from: DateTime!, $to: DateTime!) { s: series(input: { metric: ${metric}, ${currency ? `currency: "${currency}", ` : ''}from: $from, to: $to, granularity: ${granularity} }) { total points { start value final } } }`,
    { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
  );
  expect(r.errors).toBeUndefined();
  return r.data!.s;
}

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'rollup', env: { ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000' } });
  token = await t.token(TENANT);
});
afterAll(() => t?.app.stop());

describe('metric_windows_hourly', () => {
  it('holds each touched hour, recomputed from its minutes, with users merged', async () => {
    // u1 buys in minutes 5 and 40 of hour 0 (one distinct user); u2 in minute 50; u3 in hour 1.
    await send([event(5, 'u1', '10.50'), event(40, 'u1', '1.25'), event(50, 'u2', '0.000001'), event(65, 'u3', '7')], H0 + 2 * HOUR);
    await t.app.aggregator.flush();
    expect(await hourly(H0)).toEqual([{ revenue: '11.750001', purchases: 3, users: 2, final: 1, minutes: 3 }]);
    // Minute 65 is the newest event's: still open, so its hour is not final (min over minutes).
    expect(await hourly(H0 + HOUR)).toEqual([{ revenue: '7', purchases: 1, users: 1, final: 0, minutes: 1 }]);
  });

  it('takes a late correction to one minute into its hour, and the rollup read equals the minute read', async () => {
    // Minute 5 is long final: these are corrections (one more distinct user, and u1 again).
    await send([event(5, 'u4', '100'), event(5, 'u1', '0.5')], H0 + 3 * HOUR);
    await t.app.aggregator.flush();
    expect(await hourly(H0)).toEqual([{ revenue: '112.250001', purchases: 5, users: 3, final: 1, minutes: 3 }]);

    const aligned = { from: H0 - HOUR, to: H0 + 3 * HOUR }; // whole hours: the rollup
    const offByAMinute = { from: H0 - HOUR + MIN, to: H0 + 3 * HOUR }; // off whole hours: the minutes
    for (const metric of ['REVENUE', 'PURCHASES', 'ACTIVE_USERS']) {
      const fromRollup = await series(metric, aligned.from, aligned.to, 'HOUR');
      const fromMinutes = await series(metric, offByAMinute.from, offByAMinute.to, 'HOUR');
      expect(fromRollup.points.slice(1)).toEqual(fromMinutes.points.slice(1));
      expect(fromRollup.total).toBe(fromMinutes.total);
    }
    expect((await series('REVENUE', aligned.from, aligned.to, 'HOUR')).points.map((p) => p.value)).toEqual(['0', '112.250001', '7', '0']);
    expect((await series('ACTIVE_USERS', aligned.from, aligned.to, 'HOUR')).total).toBe('4');
    const day = await series('ACTIVE_USERS', Date.UTC(2026, 10, 20), Date.UTC(2026, 10, 21), 'DAY');
    expect(day).toEqual({ total: '4', points: [{ start: '2026-11-20T00:00:00.000Z', value: '4', final: false }] });
  });

  it('merges an hour\'s distinct users over all currencies, and reads them as the minutes do', async () => {
    // Hour 0 in USD: u1, u2, u4. In EUR: u1 again (one user across two currencies) and u9.
    await send([event(10, 'u1', '3', 'EUR'), event(20, 'u9', '4', 'EUR')], H0 + 4 * HOUR);

    const aligned = { from: H0 - HOUR, to: H0 + 3 * HOUR };
    const offByAMinute = { from: H0 - HOUR + MIN, to: H0 + 3 * HOUR };
    for (const currency of [null, 'EUR', 'USD']) {
      const fromRollup = await series('ACTIVE_USERS', aligned.from, aligned.to, 'HOUR', currency);
      const fromMinutes = await series('ACTIVE_USERS', offByAMinute.from, offByAMinute.to, 'HOUR', currency);
      expect(fromRollup.points.slice(1)).toEqual(fromMinutes.points.slice(1));
      expect(fromRollup.total).toBe(fromMinutes.total);
    }
    type Slices = { b: { slices: { currency: string; total: string; points: { value: string }[] }[] } };
    const breakdown = async (range: { from: number; to: number }) =>
      (
        await t.gql<Slices>(
          token,
          'query($from: DateTime!, $to: DateTime!) { b: breakdown(input: { metric: ACTIVE_USERS, from: $from, to: $to, granularity: HOUR }) { slices { currency total points { value } } } }',
          { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() },
        )
      ).data!.b.slices;
    const slices = await breakdown(aligned);
    expect(slices.map((x) => [x.currency, x.total, x.points.map((p) => p.value)])).toEqual([
      ['EUR', '2', ['0', '2', '0', '0']],
      ['USD', '4', ['0', '3', '1', '0']],
    ]);
    expect((await breakdown(offByAMinute)).map((x) => [x.currency, x.total, x.points.slice(1)])).toEqual(slices.map((x) => [x.currency, x.total, x.points.slice(1)]));
    const all = await series('ACTIVE_USERS', aligned.from, aligned.to, 'HOUR', null);
    expect(all.points.map((p) => p.value)).toEqual(['0', '4', '1', '0']);
    expect(all.total).toBe('5'); // u1, u2, u3, u4, u9
    expect((await series('ACTIVE_USERS', Date.UTC(2026, 10, 20), Date.UTC(2026, 10, 21), 'DAY', null)).total).toBe('5');
  });

  it('recomputing an hour again changes nothing (idempotent)', async () => {
    const before = await hourly(H0);
    const store = createMetricWindowStore(t.app.db);
    await store.rollupHours([{ tenantId: TENANT, currency: 'USD', windowStart: H0 + 5 * MIN }]);
    await store.rollupHours([{ tenantId: TENANT, currency: 'USD', windowStart: H0 + 7 * MIN }]);
    expect(await hourly(H0)).toEqual(before);
  });

  it('serves whole hours from the rollup, and minutes off whole hours from the minutes', async () => {
    // A marker row in an hour that has no minutes: only a read of the rollup can see it.
    const marker = H0 - HOUR;
    await t.app.db.command({
      queryId: 'test.hourly_marker',
      sql: `INSERT INTO metric_windows_hourly (tenant_id, metric, metric_version, hour_start, dims, final, value, users, last_event_at_ms, minutes, row_version)
            SELECT {tenant:String}, 'revenue', 1, {hour:DateTime('UTC')}, ['USD'], 1, toDecimal128('999', 6), uniqExactState(''), 0, 1, 1`,
      params: { tenant: TENANT, hour: marker / 1000 },
    });
    expect((await series('REVENUE', marker, H0 + HOUR, 'HOUR')).points[0]!.value).toBe('999');
    expect((await series('REVENUE', marker, H0 + HOUR, 'DAY')).total).toBe('1111.250001');
    // Off whole hours: the whole hours from the rollup, the minutes at the edge from the minutes.
    expect((await series('REVENUE', marker, H0 + HOUR + MIN, 'HOUR')).points[0]!.value).toBe('999');
    expect((await series('REVENUE', marker + MIN, H0 + HOUR, 'HOUR')).points[0]!.value).toBe('0');
    expect((await series('REVENUE', marker, H0 + HOUR, 'MINUTE')).total).toBe('112.250001');
    await t.app.db.command({
      queryId: 'test.hourly_marker_delete',
      sql: `ALTER TABLE metric_windows_hourly DELETE WHERE tenant_id = {tenant:String} AND hour_start = {hour:DateTime('UTC')} SETTINGS mutations_sync = 1`,
      params: { tenant: TENANT, hour: marker / 1000 },
    });
  });

  it('counts a bucket that the range start cuts from the range start: a user also seen before it, the same day, still counts', async () => {
    // u1 (hour 0) comes back in hour 1. The range starts at hour 1; its DAY bucket at midnight.
    await send([event(70, 'u1', '2')], H0 + 5 * HOUR);
    const range = { from: H0 + HOUR, to: H0 + 3 * HOUR };
    for (const currency of ['USD', null]) {
      const fromRollup = await series('ACTIVE_USERS', range.from, range.to, 'DAY', currency);
      expect(fromRollup.points.map((p) => p.value), String(currency)).toEqual(['2']); // u3 and u1
      expect(fromRollup.total).toBe('2');
      const fromMinutes = await series('ACTIVE_USERS', range.from + MIN, range.to, 'DAY', currency); // events at minutes 65 and 70
      expect(fromMinutes.points.map((p) => p.value)).toEqual(['2']);
    }
  });
});
