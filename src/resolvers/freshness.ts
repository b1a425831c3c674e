/**
 * Freshness per tenant, from what the aggregators report (progress ticks on the bus,
 * which carry the newest event time of each tenant a flush touched), seeded from
 * storage at start.
 *
 * `dataAsOf`: every event accepted before it is stored — the oldest
 * `processedThrough` among this deployment's sources (`countsSource`: sources of an
 * earlier run or another topic are retired, see src/app/sources.ts), so it advances for
 * an idle tenant too and stops when one of its aggregators stops. `lastEventAt`: the
 * newest event time seen for the tenant. `ageMs = now − dataAsOf`.
 */
import type { Progress, WindowUpdate } from '../contracts/window.ts';

export interface Freshness {
  dataAsOf: number;
  lastEventAt: number | null;
  ageMs: number;
  staleThresholdMs: number;
  isStale: boolean;
}

export function createFreshnessTracker(o: {
  clock: () => number;
  staleAfterMs: number;
  /** Whether a progress source counts (default: every one); ticks of others are ignored. */
  countsSource?: (source: string) => boolean;
}) {
  const sources = new Map<string, Progress>();
  const lastEventAt = new Map<string, number>();
  return {
    observeProgress(p: Progress): void {
      if (o.countsSource && !o.countsSource(p.source)) return;
      const prev = sources.get(p.source);
      if (!prev || p.processedThrough >= prev.processedThrough) sources.set(p.source, p);
      for (const [tenantId, at] of Object.entries(p.lastEventAt ?? {})) this.observeWindow({ tenantId, lastEventAt: at });
    },
    observeWindow(u: Pick<WindowUpdate, 'tenantId' | 'lastEventAt'>): void {
      lastEventAt.set(u.tenantId, Math.max(lastEventAt.get(u.tenantId) ?? 0, u.lastEventAt));
    },
    /** Oldest processedThrough across sources; 0 (epoch, stale) before any report. */
    dataAsOf(): number {
      let min = Infinity;
      for (const p of sources.values()) min = Math.min(min, p.processedThrough);
      return Number.isFinite(min) ? min : 0;
    },
    /** Lowest watermark across sources: buckets ending before it are final. */
    watermark(): number {
      let min = Infinity;
      for (const p of sources.values()) min = Math.min(min, p.watermark);
      return Number.isFinite(min) ? min : 0;
    },
    of(tenantId: string): Freshness {
      const dataAsOf = this.dataAsOf();
      // GraphQL Int is 32-bit: before any progress (dataAsOf = epoch) the age would not fit (~24.8 days cap).
      const ageMs = Math.min(Math.max(0, o.clock() - dataAsOf), 2_147_483_647);
      return { dataAsOf, lastEventAt: lastEventAt.get(tenantId) ?? null, ageMs, staleThresholdMs: o.staleAfterMs, isStale: ageMs > o.staleAfterMs };
    },
  };
}

export type FreshnessTracker = ReturnType<typeof createFreshnessTracker>;
