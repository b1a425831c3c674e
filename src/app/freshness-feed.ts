/**
 * The freshness of an API process: a tracker seeded from storage (every source's saved
 * progress, every tenant's newest event) and fed by the bus's progress ticks, which carry
 * every tenant's freshness (window updates arrive only for tenants with subscribers here).
 */
import type { Config } from '../config/index.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { UpdateBus } from '../realtime/index.ts';
import { createFreshnessTracker } from '../resolvers/freshness.ts';
import type { ProgressStore } from '../storage/progress-store.ts';
import type { WindowStore } from '../storage/window-store.ts';
import { embeddedSources, type SourceFilter } from './sources.ts';

export async function createFreshnessFeed(o: {
  config: Config;
  clock: () => number;
  /** The sources whose progress counts (src/app/sources.ts); default: the embedded HTTP intake's. */
  sources?: SourceFilter;
  progressStore: ProgressStore;
  windowStore: WindowStore;
  bus: UpdateBus;
  metrics: Metrics;
}) {
  const { clock, bus } = o;
  const freshness = createFreshnessTracker({ clock, staleAfterMs: o.config.aggregate.staleAfterMs, countsSource: o.sources ?? embeddedSources });
  for (const p of await o.progressStore.loadAll()) freshness.observeProgress(p);
  for (const [tenantId, lastEventAt] of await o.windowStore.lastEventAtByTenant()) freshness.observeWindow({ tenantId, lastEventAt });
  const offProgress = bus.subscribeProgress((p) => freshness.observeProgress(p));
  o.metrics.observeFreshness(() => clock() - freshness.dataAsOf());
  return {
    freshness,
    /** Stops following the bus. */
    close: offProgress,
  };
}
