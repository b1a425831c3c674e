/**
 * The series cache's unit-test rig (test/unit/series-cache*.test.ts): the cached reader over
 * the fakes of series-cache-fakes.ts with three days of revenue and distinct users, query
 * factories, and what the fake storage was asked for.
 */
import { createCachedMetricSeriesReader, type Outcome } from '../../src/resolvers/series-cache/cached-reader.ts';
import { createCacheStore } from '../../src/resolvers/series-cache/store.ts';
import type { MetricQuery } from '../../src/storage/metric-series-sql.ts';
import { fakeBus, fakeStorage, HOUR, MINUTE, type FakeRow } from './series-cache-fakes.ts';

export const T0 = Date.UTC(2026, 5, 1);
export const DAY = 24 * HOUR;

export const series = (o: Partial<MetricQuery> = {}): MetricQuery => ({
  table: 'metric_windows_hourly',
  from: T0,
  to: T0 + 3 * DAY,
  granularity: 'DAY',
  timeZone: 'UTC',
  metric: 'revenue',
  version: 1,
  distinct: false,
  filters: [],
  breakdown: null,
  ...o,
});
export const byCurrency = series({ breakdown: { index: 0, top: null, group: 0, leader: true } });
export const users = series({ metric: 'users', distinct: true });
export const ranked = series({ breakdown: { index: 1, top: 1, group: 0, leader: true } });

export function setup(o: { maxBytes?: number; maxTenants?: number; maxAgeMs?: number; closedBefore?: number; keepable?: (m: string, from: number) => boolean } = {}) {
  const storage = fakeStorage();
  const bus = fakeBus();
  let now = T0 + 3 * DAY;
  let closedBefore = o.closedBefore ?? T0 + 2 * DAY + 5 * HOUR + 30 * MINUTE;
  const outcomes: Outcome[] = [];
  let shared = 0;
  const store = createCacheStore({ bus: bus.bus, maxBytes: o.maxBytes ?? 1 << 30, maxTenants: o.maxTenants ?? 100, maxAgeMs: o.maxAgeMs ?? 30_000, clock: () => now });
  const reader = createCachedMetricSeriesReader({
    reader: storage.reader,
    store,
    closedBefore: () => closedBefore,
    keepable: (m, _v, from) => o.keepable?.(m, from) ?? true,
    hooks: { lookup: (x) => outcomes.push(x), shared: () => (shared += 1) },
  });
  const add = (r: Partial<FakeRow> & { t: number }) => storage.rows.push({ tenantId: 'acme', metric: 'revenue', value: '1.5', dims: ['USD', 'pro'], final: true, ...r });
  // Three days of revenue every 20 minutes in USD and EUR (pro and team), and distinct users.
  for (let t = T0; t < T0 + 3 * DAY; t += 20 * MINUTE) {
    add({ t, value: String((t / MINUTE) % 7) + '.25', dims: ['USD', t % HOUR === 0 ? 'team' : 'pro'] });
    add({ t, value: '2', dims: ['EUR', 'pro'] });
    add({ t, metric: 'users', value: '0', user: `u${(t / MINUTE) % 13}` });
  }
  return {
    storage,
    bus,
    store,
    reader,
    outcomes,
    shared: () => shared,
    add,
    setNow: (t: number) => (now = t),
    setClosedBefore: (t: number) => (closedBefore = t),
    /** What the uncached reader answers now. */
    truth: (qs: MetricQuery[], tenantId = 'acme') => qs.map((q) => storage.answer(tenantId, q)),
  };
}

/** Every query range the fake storage was asked for, per read. */
export const rangesOf = (calls: MetricQuery[][]) => calls.map((c) => c.map((q) => [q.metric, q.from, q.to]));
