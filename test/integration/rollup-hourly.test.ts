/**
 * The exact hourly rollup (windows_hourly): every flush recomputes the hours it touched
 * from the stored minutes, so a late correction to one minute reaches its hour, distinct
 * users merge (never add) across minutes, and hour-aligned HOUR/DAY series — served from
 * the rollup — equal the same buckets read from the minutes (a range 1 minute off whole
 * hours stays on minutes). Each hour row also keeps its users' keys (what merges read) and
 * the hour's distinct users over all currencies (migrations/0007).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIGRATIONS_DIR, splitStatements } from '../../src/storage/migrations.ts';
import { recomputeUsersHourly } from '../../src/storage/users-hourly.ts';
import { createWindowStore } from '../../src/storage/window-store.ts';
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

const hourRow = z.object({ revenue: z.string(), purchases: z.coerce.number(), users: z.coerce.number(), final: z.coerce.number(), minutes: z.coerce.number() });
const hourly = async (hourStart: number) =>
  t.app.db.query({
    queryId: 'test.hourly',
    sql: `SELECT toString(revenue) AS revenue, purchases, uniqExactMerge(users) AS users, final, minutes FROM windows_hourly FINAL
          WHERE tenant_id = {tenant:String} AND currency = 'USD' AND hour_start = {hour:DateTime('UTC')}
          GROUP BY revenue, purchases, final, minutes`,
    params: { tenant: TENANT, hour: hourStart / 1000 },
    row: hourRow,
  });

/** Per currency row of an hour: its users, its key array, and the hour's users over all currencies. */
const hourUsers = async (hourStart: number) =>
  t.app.db.query({
    queryId: 'test.hourly_users',
    sql: `SELECT currency, active_users AS users, length(user_keys) AS keys, arrayUniq(user_keys) AS distinct_keys,
                 active_users_all_currencies AS all_currencies
          FROM windows_hourly FINAL WHERE tenant_id = {tenant:String} AND hour_start = {hour:DateTime('UTC')} ORDER BY currency`,
    params: { tenant: TENANT, hour: hourStart / 1000 },
    row: z.object({ currency: z.string(), users: z.coerce.number(), keys: z.coerce.number(), distinct_keys: z.coerce.number(), all_currencies: z.coerce.number() }),
  });

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

describe('windows_hourly', () => {
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

  it('keeps each hour\'s user keys and its distinct users over all currencies, and reads them as the minutes do', async () => {
    // Hour 0 in USD: u1, u2, u4. In EUR: u1 again (one user across two currencies) and u9.
    await send([event(10, 'u1', '3', 'EUR'), event(20, 'u9', '4', 'EUR')], H0 + 4 * HOUR);
    expect(await hourUsers(H0)).toEqual([
      { currency: 'EUR', users: 2, keys: 2, distinct_keys: 2, all_currencies: 4 },
      { currency: 'USD', users: 3, keys: 3, distinct_keys: 3, all_currencies: 4 },
    ]);
    expect(await hourUsers(H0 + HOUR)).toEqual([{ currency: 'USD', users: 1, keys: 1, distinct_keys: 1, all_currencies: 1 }]);

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
    const store = createWindowStore(t.app.db);
    await store.rollupHours([{ tenantId: TENANT, currency: 'USD', windowStart: H0 + 5 * MIN }]);
    await store.rollupHours([{ tenantId: TENANT, currency: 'USD', windowStart: H0 + 7 * MIN }]);
    expect(await hourly(H0)).toEqual(before);
  });

  it('serves hour-aligned reads from the rollup and others from the minutes', async () => {
    // A marker row in an hour that has no minutes: only a read of the rollups can see it
    // (windows_hourly, and users_hourly, which carries its metrics for ranges it counts).
    const marker = H0 - HOUR;
    await t.app.db.command({
      queryId: 'test.hourly_marker',
      sql: `INSERT INTO windows_hourly (tenant_id, currency, hour_start, final, revenue, purchases, users, source, minutes, version)
            SELECT {tenant:String}, 'USD', {hour:DateTime('UTC')}, 1, toDecimal128('999', 6), 1, uniqExactState('marker'), 'http', 1, 1`,
      params: { tenant: TENANT, hour: marker / 1000 },
    });
    await t.app.db.command({
      queryId: 'test.users_hourly_marker',
      sql: `INSERT INTO users_hourly (tenant_id, scope, hour_start, user_keys, prev_hours, final, revenue, purchases, active_users, version)
            SELECT {tenant:String}, 'USD', {hour:DateTime('UTC')}, [toUInt128(1)], [0], 1, toDecimal128('999', 6), 1, 1, 1`,
      params: { tenant: TENANT, hour: marker / 1000 },
    });
    expect((await series('REVENUE', marker, H0 + HOUR, 'HOUR')).points[0]!.value).toBe('999');
    expect((await series('REVENUE', marker, H0 + HOUR, 'DAY')).total).toBe('1111.250001');
    expect((await series('REVENUE', marker, H0 + HOUR + MIN, 'HOUR')).points[0]!.value).toBe('0');
    expect((await series('REVENUE', marker, H0 + HOUR, 'MINUTE')).total).toBe('112.250001');
    for (const table of ['windows_hourly', 'users_hourly']) {
      await t.app.db.command({
        queryId: 'test.hourly_marker_delete',
        sql: `ALTER TABLE ${table} DELETE WHERE tenant_id = {tenant:String} AND hour_start = {hour:DateTime('UTC')} SETTINGS mutations_sync = 1`,
        params: { tenant: TENANT, hour: marker / 1000 },
      });
    }
  });

  it('the one-time backfill migrations (0006, then 0007 with user keys) rebuild the same hours from the minutes', async () => {
    const before = [await hourly(H0), await hourly(H0 + HOUR), await hourUsers(H0), await hourUsers(H0 + HOUR)];
    await t.app.db.command({
      queryId: 'test.hourly_lose',
      sql: 'ALTER TABLE windows_hourly DELETE WHERE tenant_id = {tenant:String} SETTINGS mutations_sync = 1',
      params: { tenant: TENANT },
    });
    expect(await hourly(H0)).toEqual([]);
    const [backfill, ...rest] = splitStatements(await readFile(join(MIGRATIONS_DIR, '0006_windows_hourly_backfill.sql'), 'utf8'));
    expect(rest).toEqual([]);
    await t.app.db.command({ queryId: 'test.hourly_backfill', sql: backfill! });
    // 0006 alone leaves the keys empty (it predates them); 0007 (its ALTERs are no-ops now) fills them.
    expect((await hourUsers(H0)).map((r) => r.keys)).toEqual([0, 0]);
    for (const statement of splitStatements(await readFile(join(MIGRATIONS_DIR, '0007_windows_hourly_user_keys.sql'), 'utf8'))) {
      await t.app.db.command({ queryId: 'test.hourly_backfill_keys', sql: statement });
    }
    expect([await hourly(H0), await hourly(H0 + HOUR), await hourUsers(H0), await hourUsers(H0 + HOUR)]).toEqual(before);
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

  it('a read takes each hour\'s metrics and users from one recompute: a newer rollup row shows once its users are recomputed', async () => {
    const hour0 = { from: H0, to: H0 + HOUR };
    const before = await series('PURCHASES', hour0.from, hour0.to, 'HOUR');
    // Hour 0's windows_hourly row as if its rollup had just landed and its users_hourly rows not yet.
    await t.app.db.command({
      queryId: 'test.hourly_newer',
      sql: `INSERT INTO windows_hourly SELECT * REPLACE (purchases + 1000 AS purchases, version + 1 AS version) FROM windows_hourly FINAL
            WHERE tenant_id = {tenant:String} AND currency = 'USD' AND hour_start = {hour:DateTime('UTC')}`,
      params: { tenant: TENANT, hour: H0 / 1000 },
    });
    expect(await series('PURCHASES', hour0.from, hour0.to, 'HOUR')).toEqual(before);
    await recomputeUsersHourly(t.app.db, [{ tenantId: TENANT, hour: H0 }]);
    expect((await series('PURCHASES', hour0.from, hour0.to, 'HOUR')).total).toBe(String(Number(before.total) + 1000));
    // Recomputing from the minutes (a newer clock version) puts the truth back in both tables.
    await createWindowStore(t.app.db).rollupHours([{ tenantId: TENANT, currency: 'USD', windowStart: H0 }]);
    expect(await series('PURCHASES', hour0.from, hour0.to, 'HOUR')).toEqual(before);
  });
});
