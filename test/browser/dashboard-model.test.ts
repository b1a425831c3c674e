/**
 * The example dashboard's pure logic (web/src/model), in Node: periods in time zones,
 * exact and idempotent application of live window updates, the freshness badge.
 */
import { describe, expect, it } from 'vitest';
import { createDashboardState, METRICS, type DashboardData, type Metric, type PointData, type WindowUpdateData } from '../../web/src/model/dashboard.ts';
import { fromMicros, percentChange, toMicros } from '../../web/src/model/decimal.ts';
import { badge, readFreshness } from '../../web/src/model/freshness.ts';
import { periodAt, type Period } from '../../web/src/model/period.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const at = (iso: string) => Date.parse(iso);
const iso = (t: number) => new Date(t).toISOString();

describe('periods', () => {
  it.each([
    // [kind, now, zone, from, to, prevFrom]
    ['today', '2026-03-10T15:20:30Z', 'UTC', '2026-03-10T00:00:00.000Z', '2026-03-11T00:00:00.000Z', '2026-03-09T00:00:00.000Z'],
    // New York falls back on 2026-11-01: a 25-hour day, compared (hourly, like the API's
    // PREVIOUS_PERIOD) with the 25 hours before it.
    ['today', '2026-11-01T18:00:00Z', 'America/New_York', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', '2026-10-31T03:00:00.000Z'],
    // ...and springs forward on 2026-03-08: 23 hours.
    ['today', '2026-03-08T12:00:00Z', 'America/New_York', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', '2026-03-07T06:00:00.000Z'],
    // Half-hour offset: local hours start at :30 UTC.
    ['hour', '2026-03-10T15:20:30Z', 'Asia/Kolkata', '2026-03-10T14:30:00.000Z', '2026-03-10T15:30:00.000Z', '2026-03-10T13:30:00.000Z'],
    ['week', '2026-03-10T15:20:30Z', 'UTC', '2026-03-04T00:00:00.000Z', '2026-03-11T00:00:00.000Z', '2026-02-25T00:00:00.000Z'],
    // A leap day inside the week.
    ['week', '2028-03-02T01:00:00Z', 'UTC', '2028-02-25T00:00:00.000Z', '2028-03-03T00:00:00.000Z', '2028-02-18T00:00:00.000Z'],
  ] as const)('%s at %s in %s', (kind, now, zone, from, to, prevFrom) => {
    const p = periodAt(kind, at(now), zone);
    expect([iso(p.from), iso(p.to), iso(p.prevFrom), iso(p.prevTo)]).toEqual([from, to, prevFrom, from]);
  });

  it('compares with the previous period up to the same minute, and reads recent windows as baselines', () => {
    const p = periodAt('today', at('2026-03-10T15:20:30Z'), 'UTC');
    expect(iso(p.prevToDateTo)).toBe('2026-03-09T15:21:00.000Z'); // the current minute included
    expect(iso(p.tailFrom)).toBe('2026-03-10T15:10:00.000Z');
    expect(iso(p.tailTo)).toBe('2026-03-10T15:25:00.000Z');
    const early = periodAt('today', at('2026-03-10T00:00:10Z'), 'UTC');
    expect(iso(early.tailFrom)).toBe('2026-03-10T00:00:00.000Z'); // never before the period
    expect(early.prevToDateTo - early.prevFrom).toBe(MIN);
  });
});

describe('exact decimals', () => {
  it('adds money without floating point and renders the API’s canonical form', () => {
    expect(fromMicros(toMicros('0.1') + toMicros('0.2'))).toBe('0.3');
    expect(fromMicros(toMicros('19.99') + toMicros('0.000001') - toMicros('19.99'))).toBe('0.000001');
    expect(fromMicros(toMicros('12.500000'))).toBe('12.5');
    expect(fromMicros(-toMicros('3'))).toBe('-3');
    expect(() => toMicros('1.0000001')).toThrow();
    expect(percentChange(toMicros('150'), toMicros('100'))).toBe(50);
    expect(percentChange(toMicros('5'), 0n)).toBeNull();
  });
});

/** A 'today' dashboard at 10:05:30 UTC: hourly buckets, tail windows 09:55–10:10. */
function fixture() {
  const now = at('2026-03-10T10:05:30Z');
  const period = periodAt('today', now, 'UTC');
  const hours = Array.from({ length: 24 }, (_, i) => period.from + i * HOUR);
  const series = (values: Record<number, string>) => ({
    total: fromMicros(Object.values(values).reduce((s, v) => s + toMicros(v), 0n)),
    points: hours.map((start) => ({ start, value: values[start] ?? '0' })),
  });
  const tail: PointData[] = [];
  for (let t = period.tailFrom; t < period.tailTo; t += MIN) tail.push({ start: t, value: t === at('2026-03-10T10:04:00Z') ? '4' : '0' });
  const metric = (m: Metric) => ({
    // 09:00 holds 10; 10:00 holds the 4 of the 10:04 window (in the tail).
    current: series({ [at('2026-03-10T09:00:00Z')]: '10', [at('2026-03-10T10:00:00Z')]: '4' }),
    previous: series({ [at('2026-03-09T09:00:00Z')]: '7' }),
    previousToDate: '7',
    tail: m === 'ACTIVE_USERS' ? null : tail,
  });
  const data: DashboardData = {
    freshness: { dataAsOf: now - 500, ageMs: 500, staleThresholdMs: 30_000, isStale: false, lastEventAt: now - 600 },
    metrics: Object.fromEntries(METRICS.map((m) => [m, metric(m)])) as DashboardData['metrics'],
  };
  return { period, data, state: createDashboardState(data, period, 'USD') };
}

const update = (p: Period, o: Partial<WindowUpdateData> & { windowStart: number; value: string; revision: number }): WindowUpdateData => ({
  metric: 'PURCHASES',
  currency: 'USD',
  freshness: { dataAsOf: p.at, ageMs: 0, staleThresholdMs: 30_000, isStale: false, lastEventAt: p.at },
  ...o,
});

describe('live window updates', () => {
  it('replace a window’s value: applying twice, or out of date, changes nothing', () => {
    const { period, state } = fixture();
    const w = at('2026-03-10T10:04:00Z');
    expect(state.tile('PURCHASES').value).toBe('14');
    expect(state.apply(update(period, { windowStart: w, value: '6', revision: 3 }))).toBe('applied');
    expect(state.tile('PURCHASES').value).toBe('16'); // 14 − 4 + 6
    expect(state.apply(update(period, { windowStart: w, value: '6', revision: 3 }))).toBe('ignored');
    expect(state.apply(update(period, { windowStart: w, value: '5', revision: 2 }))).toBe('ignored');
    expect(state.tile('PURCHASES').value).toBe('16');
    expect(state.chart('PURCHASES', period.at).current.slice(9, 12)).toEqual([10, 6, null]); // future buckets: no line
  });

  it('count a window the first read could not have seen (after tailTo) from zero', () => {
    const { period, state } = fixture();
    expect(state.apply(update(period, { windowStart: period.tailTo + 2 * MIN, value: '3', revision: 1 }))).toBe('applied');
    expect(state.tile('PURCHASES').value).toBe('17');
  });

  it('ask for a bucket re-read when a window has no baseline, then apply the replay exactly', () => {
    const { period, state } = fixture();
    const late = update(period, { windowStart: at('2026-03-10T09:30:00Z'), value: '2', revision: 2 });
    expect(state.apply(late)).toBe('fetchBucket');
    expect(state.bucketOf(late.windowStart)).toEqual({ start: at('2026-03-10T09:00:00Z'), end: at('2026-03-10T10:00:00Z') });
    // The re-read already contains the correction (09:30 = 2; the other 10 elsewhere in the hour).
    const windows = (values: Record<number, string>) => Array.from({ length: 60 }, (_, i) => at('2026-03-10T09:00:00Z') + i * MIN).map((start) => ({ start, value: values[start] ?? '0' }));
    const read = windows({ [at('2026-03-10T09:10:00Z')]: '10', [at('2026-03-10T09:30:00Z')]: '2' });
    state.replaceBucket(at('2026-03-10T09:00:00Z'), { REVENUE: read, PURCHASES: read, SIGNUPS: read, UPGRADES: read, CHURNS: read });
    expect(state.tile('PURCHASES').value).toBe('16'); // 12 in 09:00 + 4 in 10:00
    expect(state.apply(late)).toBe('unchanged'); // replayed onto the read: counted once
    expect(state.apply(update(period, { windowStart: at('2026-03-10T09:30:00Z'), value: '5', revision: 3 }))).toBe('applied');
    expect(state.tile('PURCHASES').value).toBe('19');
  });

  it('never add up distinct users, ignore other currencies and other periods', () => {
    const { period, state } = fixture();
    expect(state.apply(update(period, { metric: 'ACTIVE_USERS', windowStart: at('2026-03-10T10:04:00Z'), value: '9', revision: 2 }))).toBe('refreshDistinct');
    state.replaceDistinct({ total: '21', points: [] });
    expect(state.tile('ACTIVE_USERS').value).toBe('21');
    expect(state.apply(update(period, { currency: 'EUR', windowStart: at('2026-03-10T10:04:00Z'), value: '9', revision: 2 }))).toBe('ignored');
    expect(state.apply(update(period, { windowStart: period.from - MIN, value: '9', revision: 2 }))).toBe('ignored');
    expect(state.tile('PURCHASES')).toEqual({ metric: 'PURCHASES', value: '14', previousToDate: '7', changePercent: 100 });
  });

  it('treat every bucket as a window at MINUTE granularity (no re-reads within the hour)', () => {
    const now = at('2026-03-10T10:45:00Z');
    const period = periodAt('hour', now, 'UTC');
    const points = Array.from({ length: 60 }, (_, i) => ({ start: period.from + i * MIN, value: i === 5 ? '3' : '0' }));
    const s = { total: '3', points };
    const data: DashboardData = {
      freshness: { dataAsOf: now, ageMs: 0, staleThresholdMs: 30_000, isStale: false, lastEventAt: null },
      metrics: Object.fromEntries(METRICS.map((m) => [m, { current: s, previous: s, previousToDate: '3', tail: m === 'ACTIVE_USERS' ? null : [] }])) as DashboardData['metrics'],
    };
    const state = createDashboardState(data, period, 'USD');
    expect(state.apply(update(period, { windowStart: period.from + 5 * MIN, value: '4', revision: 2 }))).toBe('applied');
    expect(state.tile('PURCHASES').value).toBe('4');
  });
});

describe('freshness badge', () => {
  const f = { dataAsOf: 1_000_000, ageMs: 300, staleThresholdMs: 30_000, isStale: false, lastEventAt: null };
  it('ages on its own, turns stale past the threshold, and corrects clock skew', () => {
    const r = readFreshness(f, 1_000_300 + 5_000); // browser clock 5 s ahead of the server
    expect(badge(r, 1_000_300 + 5_000 + 2_000, 'open')).toEqual({ state: 'live', text: 'live · 2 s ago', ageMs: 2_300 });
    expect(badge(r, 1_000_000 + 5_000 + 30_001, 'open').state).toBe('stale');
    expect(badge(r, 1_000_000 + 5_000 + 180_000, 'open').text).toBe('stale · 3 min');
    expect(badge(r, 1_000_300 + 5_000, 'closed').state).toBe('offline');
    expect(badge(null, 0, 'open').state).toBe('connecting');
  });
});
