/**
 * The API process's series cache (SERIES_CACHE_MB, SERIES_CACHE_TENANTS,
 * SERIES_CACHE_MAX_AGE_MS): the caching reader over the model's MetricSeriesReader, its
 * store subscribed to the update bus, and its Prometheus metrics:
 * - tilecast_series_cache_lookups_total{outcome}: per query of a read, hit (all from
 *   memory), partial (closed part from memory, edge read), miss (read, kept), uncached
 *   (read, not keepable: distinct or ranked over an open range, nothing closed yet, not backfilled);
 *   hit rate = (hit + partial) / all;
 * - tilecast_series_cache_shared_reads_total: reads that joined an identical one in flight;
 * - tilecast_series_cache_drops_total{reason}: entries dropped (update, gap, tenant,
 *   budget, expired, cleared);
 * - tilecast_series_cache_bytes / _entries / _tenants: the size now.
 * With maxBytes 0 the reader is returned as it is.
 *
 * `bypass` and `clear` exist for measuring (bench/dashboard.ts compares cache on, off and
 * cold in one process); nothing in the product calls them.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../config/index.ts';
import type { MetricSeriesReader } from '../../storage/metric-series-reader.ts';
import { createCachedMetricSeriesReader } from './cached-reader.ts';
import { createCacheStore, type CacheBus } from './store.ts';

export function createSeriesCache(o: {
  reader: MetricSeriesReader;
  bus: CacheBus;
  config: Config['seriesCache'];
  /** Everything stored before this instant is final (FreshnessTracker.watermark). */
  closedBefore: () => number;
  /** Backfill state per stored version id (`name@version`); null = complete. */
  coverage: { incompleteBefore(id: string): number | null };
  registry: Registry;
  clock: () => number;
}): SeriesCache {
  if (o.config.maxBytes === 0) return { reader: o.reader, enabled: false, bypass: () => undefined, clear: () => undefined, close: () => undefined };
  const registers = [o.registry];
  const lookups = new Counter({ name: 'tilecast_series_cache_lookups_total', help: 'Model series queries by how the series cache answered them (hit|partial|miss|uncached)', labelNames: ['outcome'] as const, registers });
  const shared = new Counter({ name: 'tilecast_series_cache_shared_reads_total', help: 'Series reads that shared an identical ClickHouse read in flight', registers });
  const drops = new Counter({ name: 'tilecast_series_cache_drops_total', help: 'Series cache entries dropped, by reason (update|gap|tenant|budget|expired|cleared)', labelNames: ['reason'] as const, registers });
  const store = createCacheStore({ bus: o.bus, maxBytes: o.config.maxBytes, maxTenants: o.config.maxTenants, maxAgeMs: o.config.maxAgeMs, clock: o.clock, hooks: { dropped: (reason, n) => drops.inc({ reason }, n) } });
  const gauge = (name: string, help: string, of: (s: ReturnType<typeof store.size>) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(of(store.size()));
      },
    });
  gauge('tilecast_series_cache_bytes', 'Estimated bytes held by the series cache (budget SERIES_CACHE_MB)', (s) => s.bytes);
  gauge('tilecast_series_cache_entries', 'Entries held by the series cache', (s) => s.entries);
  gauge('tilecast_series_cache_tenants', 'Tenants the series cache holds a window-update subscription for (bound SERIES_CACHE_TENANTS)', (s) => s.tenants);
  let bypassed = false;
  const cached = createCachedMetricSeriesReader({
    reader: o.reader,
    store,
    closedBefore: o.closedBefore,
    // Backfill completes a version backwards from the present: from `incompleteBefore` on, nothing more is written.
    keepable: (metric, version, from) => {
      const before = o.coverage.incompleteBefore(`${metric}@${version}`);
      return before === null || from >= before;
    },
    hooks: { lookup: (outcome) => lookups.inc({ outcome }), shared: () => shared.inc() },
  });
  const reader: MetricSeriesReader = { read: (tenantId, queries, options) => (bypassed ? o.reader : cached).read(tenantId, queries, options) };
  return {
    reader,
    enabled: true,
    bypass: (on) => {
      bypassed = on;
    },
    clear: () => store.clear(),
    close: () => store.close(),
  };
}

export interface SeriesCache {
  reader: MetricSeriesReader;
  /** False with SERIES_CACHE_MB=0. */
  enabled: boolean;
  /** While on, reads go straight to ClickHouse (nothing read, kept or dropped). */
  bypass(on: boolean): void;
  /** Drops every entry (the cold state). */
  clear(): void;
  close(): void;
}
