/**
 * users_hourly (migrations/0008): each (scope, hour)'s users with their previous active
 * hour, so the distinct users of an hour range [F, T) with T − F ≤ USERS_LOOKBACK_HOURS are
 * the count of user-hours in it whose previous hour is < F. Checked against uniqExact over
 * the event log, per scope ('' = all currencies, and each currency), for many ranges —
 * after events arrive out of order through the real aggregator (late users in older hours
 * change later hours' previous hours), after the one-time backfill, and across a gap
 * longer than the lookback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIGRATIONS_DIR, splitStatements } from '../../src/storage/migrations.ts';
import { USERS_LOOKBACK_HOURS as L } from '../../src/storage/users-hourly.ts';
import { createWindowStore } from '../../src/storage/window-store.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const HOUR = 3_600_000;
const MIN = 60_000;
const H0 = Date.UTC(2026, 5, 1); // hour numbers below are relative to H0
const HOURS = 240; // 10 days of history for the main tenant
const CURRENCIES = ['USD', 'EUR', 'JPY'];
const MAIN = 'users-h';
const GAP = 'users-g'; // sorts before MAIN: a chunk's per-tenant spans must not mix up
const GAP_AT = HOURS + 60; // the gap tenant's history starts after the main one's
let now = H0;
let t: TestApp;
let n = 0;

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(20260601);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

type Ev = ReturnType<typeof event>;
const event = (tenantId: string, hour: number, userId: string, currency: string) => ({
  eventId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  eventType: 'purchase',
  userId,
  tenantId,
  amount: '1',
  currency,
  traceId: 'ab'.repeat(16),
  timestamp: H0 + hour * HOUR + Math.floor(rand() * 60) * MIN + 1_000,
});

/** Posts each tenant's events, then one flush (one rollup for all of them). */
async function send(tenantId: string, events: Ev[], clockAt: number, also: Ev[] = []) {
  now = clockAt;
  for (const [tenant, list] of [[tenantId, events], [also[0]?.tenantId, also]] as const) {
    if (tenant === undefined || list.length === 0) continue;
    const res = await t.post(await t.token(tenant), JSON.stringify(list));
    expect(res.status).toBe(202);
    expect(res.json.accepted).toBe(list.length);
  }
  await t.app.aggregator.flush();
}

const perScope = z.object({ scope: z.string(), users: z.coerce.number() });
const toRecord = (rows: z.infer<typeof perScope>[]) => Object.fromEntries(rows.filter((r) => r.users > 0).map((r) => [r.scope, r.users]));

/** Distinct users of [from, to) (hours relative to H0) per scope, by the reader's count formula. */
async function counted(tenant: string, from: number, to: number) {
  const f = Math.floor(H0 / HOUR) + from;
  return toRecord(
    await t.app.db.query({
      queryId: 'test.users_counted',
      sql: `SELECT scope, sum(arrayCount(p -> p < {f:UInt32}, prev_hours)) AS users FROM users_hourly FINAL
            WHERE tenant_id = {tenant:String} AND hour_start >= {from:DateTime('UTC')} AND hour_start < {to:DateTime('UTC')}
            GROUP BY scope`,
      params: { tenant, f, from: (H0 + from * HOUR) / 1000, to: (H0 + to * HOUR) / 1000 },
      row: perScope,
    }),
  );
}

/** The truth: uniqExact over the logged events, per currency and over all of them (''). */
async function truth(tenant: string, from: number, to: number) {
  return toRecord(
    await t.app.db.query({
      queryId: 'test.users_truth',
      sql: `SELECT currency AS scope, uniqExact(user_id) AS users FROM events
            WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
            GROUP BY GROUPING SETS ((currency), ())`,
      params: { tenant, from: (H0 + from * HOUR) / 1000, to: (H0 + to * HOUR) / 1000 },
      row: perScope,
    }),
  );
}

async function expectExact(tenant: string, ranges: [number, number][]) {
  for (const [from, to] of ranges) {
    expect(to - from).toBeLessThanOrEqual(L);
    const want = await truth(tenant, from, to);
    expect({ from, to, users: await counted(tenant, from, to) }).toEqual({ from, to, users: want });
  }
}

/** Every stored row of a tenant, its (key, previous hour) pairs sorted: what a recompute or the backfill writes. */
const rowsOf = (tenant: string) =>
  t.app.db.query({
    queryId: 'test.users_rows',
    sql: `SELECT scope, toUnixTimestamp(hour_start) AS hour, toString(arraySort(arrayZip(user_keys, prev_hours))) AS pairs,
                 length(user_keys) = length(prev_hours) AND arrayUniq(user_keys) = length(user_keys) AS well_formed
          FROM users_hourly FINAL WHERE tenant_id = {tenant:String} ORDER BY scope, hour`,
    params: { tenant },
    row: z.object({ scope: z.string(), hour: z.coerce.number(), pairs: z.string(), well_formed: z.coerce.number() }),
  });

// The main tenant: ~30 % of 240 hours active, 30 users reused across hours and currencies.
const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
const history: Ev[] = [];
for (let h = 0; h < HOURS; h++) {
  if (rand() > 0.3) continue;
  const k = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < k; i++) history.push(event(MAIN, h, pick(users), pick(CURRENCIES)));
}
// Late users in early hours, sent last: each changes the previous hour of its next appearances.
const lateHours = [3, 17, 40, 41, 90];
const late = lateHours.flatMap((h) => [event(MAIN, h, pick(users), pick(CURRENCIES)), event(MAIN, h, pick(users), pick(CURRENCIES))]);

const ranges: [number, number][] = [
  [0, HOURS],
  [0, 1],
  [HOURS / 2, HOURS],
  ...lateHours.flatMap((h): [number, number][] => [[h, h + 24], [h + 1, h + 30], [h + 1, HOURS]]),
  ...[HOURS, HOURS / 2].flatMap((last) =>
    Array.from({ length: 25 }, (): [number, number] => {
      const from = Math.floor(rand() * last);
      return [from, from + 1 + Math.floor(rand() * (last - from))];
    }),
  ),
];

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'users-hourly', env: { ALLOWED_LATENESS_MS: '5000', FLUSH_INTERVAL_MS: '3600000' } });
});
afterAll(() => t?.app.stop());

describe('users_hourly', () => {
  it('counts the distinct users of any range up to the lookback exactly, per scope, after out-of-order events', async () => {
    // The first half hour by hour, each flush touching only the newest hour (as live: its previous
    // hours come from the lookback alone); the rest shuffled into three batches, so most of those
    // hours arrive after later ones exist.
    const end = H0 + (HOURS + 1) * HOUR;
    const hourOf = (e: Ev) => Math.floor((e.timestamp - H0) / HOUR);
    for (let h = 0; h < HOURS / 2; h++) {
      const inHour = history.filter((e) => hourOf(e) === h);
      if (inHour.length > 0) await send(MAIN, inHour, end);
    }
    await expectExact(MAIN, ranges.filter(([, to]) => to <= HOURS / 2));
    const shuffled = history.filter((e) => hourOf(e) >= HOURS / 2);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (let b = 0; b < 3; b++) await send(MAIN, shuffled.filter((_, i) => i % 3 === b), end);
    await expectExact(MAIN, ranges);
    const before = await rowsOf(MAIN);
    await send(MAIN, late, end);
    const after = await rowsOf(MAIN);
    // The late batch rewrote rows after its hours (not just its own): the forward recompute ran.
    const changedLater = after.filter((r) => r.hour * 1000 > H0 + 90 * HOUR && before.find((b) => b.scope === r.scope && b.hour === r.hour)?.pairs !== r.pairs);
    expect(changedLater.length).toBeGreaterThan(0);
    expect(after.every((r) => r.well_formed === 1)).toBe(true);
    expect(new Set(after.map((r) => r.scope))).toEqual(new Set(['', ...CURRENCIES]));
    await expectExact(MAIN, ranges);
  });

  it('recomputing again changes nothing; the one-time backfill (0008) rebuilds the same rows from windows_hourly', async () => {
    const before = await rowsOf(MAIN);
    await createWindowStore(t.app.db).rollupHours([3, 17, 200].map((h) => ({ tenantId: MAIN, currency: 'USD', windowStart: H0 + h * HOUR })));
    expect(await rowsOf(MAIN)).toEqual(before);
    await t.app.db.command({ queryId: 'test.users_lose', sql: 'TRUNCATE TABLE users_hourly' });
    expect(await rowsOf(MAIN)).toEqual([]);
    const [create, backfill, ...rest] = splitStatements(await readFile(join(MIGRATIONS_DIR, '0008_users_hourly.sql'), 'utf8'));
    expect(create).toMatch(/^CREATE TABLE IF NOT EXISTS users_hourly/m);
    expect(rest).toEqual([]);
    await t.app.db.command({ queryId: 'test.users_backfill', sql: backfill! });
    // 10 days are within the lookback: every previous hour is exact, so rows are identical.
    expect(await rowsOf(MAIN)).toEqual(before);
    await expectExact(MAIN, ranges);
  });

  it('stays exact for ranges up to the lookback across a gap longer than it', async () => {
    const a = GAP_AT;
    const b = a + L + 5; // 'g' is active at a and again at b: more than the lookback apart
    const end = H0 + (b + 2) * HOUR;
    // Hour by hour up to b, then a (late, more than the lookback before b): each recompute sees
    // only its own lookback, so 'g' at b never learns about a.
    await send(GAP, [event(GAP, b - L + 1, 'y', 'USD')], end);
    await send(GAP, [event(GAP, b - 10, 'x', 'USD')], end);
    await send(GAP, [event(GAP, b, 'g', 'USD'), event(GAP, b, 'x', 'EUR'), event(GAP, b, 'y', 'EUR')], end);
    // With late users of the main tenant in the same flush: one rollup chunk, two tenants with their own spans.
    const alsoMain = [event(MAIN, 100, 'u-late', 'EUR'), event(MAIN, 130, 'u-late', 'USD'), event(MAIN, 60, pick(users), 'JPY')];
    await send(GAP, [event(GAP, a, 'g', 'USD'), event(GAP, a, 'g', 'EUR'), event(GAP, a + 3, 'y', 'USD')], end, alsoMain);
    const gapRanges: [number, number][] = [
      [b - L + 1, b + 1],
      [b - L, b],
      [b - L + 2, b + 1],
      [a, a + L],
      [a + 1, a + L + 1],
      [a + 6, b + 1],
      [b, b + 1],
      [b - 10, b + 1],
      [a, a + 4],
      [a + 3, a + L + 3],
    ];
    await expectExact(GAP, gapRanges);
    await expectExact(MAIN, ranges);
    // After the backfill 'g' at b keeps a (unbounded lookback) instead of 0: both read as "before the range".
    const [, backfill] = splitStatements(await readFile(join(MIGRATIONS_DIR, '0008_users_hourly.sql'), 'utf8'));
    await t.app.db.command({ queryId: 'test.users_backfill', sql: backfill! });
    await expectExact(GAP, gapRanges);
  });
});
