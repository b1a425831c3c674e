/**
 * Fakes for the series cache's unit tests: a MetricSeriesReader over rows in memory (the
 * same answers as the real select for series, every-value breakdowns and distinct
 * metrics, on the minute and the hourly table) that can hold its answers back to inject a
 * read-versus-invalidate race, and an update bus whose deliveries, activations and gaps
 * the test drives.
 */
import type { WindowUpdate } from '../../src/contracts/window.ts';
import type { BusGap } from '../../src/realtime/bus.ts';
import { bucketStart } from '../../src/resolvers/buckets.ts';
import type { CacheBus } from '../../src/resolvers/series-cache/store.ts';
import { fromMicros, toMicros } from '../../src/contracts/decimal.ts';
import type { ResultsReader } from '../../src/resolvers/series-cache/cached-reader.ts';
import type { MetricCell, MetricResult } from '../../src/storage/metric-series-reader.ts';
import type { MetricQuery } from '../../src/storage/metric-series-sql.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export interface FakeRow {
  tenantId: string;
  metric: string;
  /** Minute start. */
  t: number;
  value: string;
  dims: string[];
  user?: string;
  final: boolean;
}

export function fakeStorage() {
  const rows: FakeRow[] = [];
  const calls: MetricQuery[][] = [];
  let gate: Promise<void> | null = null;
  let open: () => void = () => undefined;

  /** What the real read answers for `q` over the rows now. */
  const answer = (tenantId: string, q: MetricQuery): MetricResult => {
    const out: MetricResult = new Map();
    const users = new Map<string, { buckets: Map<number, Set<string>>; total: Set<string> }>();
    for (const r of rows) {
      const time = q.table === 'metric_windows_hourly' ? Math.floor(r.t / HOUR) * HOUR : r.t;
      if (r.tenantId !== tenantId || r.metric !== q.metric || time < q.from || time >= q.to) continue;
      if (!q.filters.every((f) => (!f.in || f.in.includes(r.dims[f.index]!)) && (!f.notIn || !f.notIn.includes(r.dims[f.index]!)))) continue;
      const slice = q.breakdown ? r.dims[q.breakdown.index]! : '';
      const b = bucketStart(time, q.granularity, q.timeZone);
      let agg = out.get(slice);
      if (!agg) out.set(slice, (agg = { buckets: new Map(), total: null }));
      const add = (c: MetricCell | null | undefined): MetricCell => ({
        value: q.distinct ? '0' : fromMicros(toMicros(c?.value ?? '0') + toMicros(r.value)),
        allFinal: (c?.allFinal ?? true) && r.final,
        lastEventAt: Math.max(c?.lastEventAt ?? 0, r.t),
      });
      agg.buckets.set(b, add(agg.buckets.get(b)));
      agg.total = add(agg.total);
      if (q.distinct) {
        let u = users.get(slice);
        if (!u) users.set(slice, (u = { buckets: new Map(), total: new Set() }));
        (u.buckets.get(b) ?? u.buckets.set(b, new Set()).get(b)!).add(r.user!);
        u.total.add(r.user!);
      }
    }
    // The real read's keys are 128-bit hashes of the ids; any one-to-one stand-in unions the same.
    for (const [slice, u] of users) {
      const agg = out.get(slice)!;
      for (const [b, set] of u.buckets) {
        agg.buckets.get(b)!.value = String(set.size);
        if (q.keysAt?.includes(b)) agg.buckets.get(b)!.keys = set;
      }
      agg.total!.value = String(u.total.size);
      if (q.keysAt) agg.total!.keys = u.total;
    }
    return out;
  };

  const reader: ResultsReader = {
    async read(tenantId, queries) {
      calls.push([...queries]);
      // The snapshot is taken when the read starts; a held read answers it later (the worst case of a race).
      const results = queries.map((q) => answer(tenantId, q));
      if (gate) await gate;
      return results;
    },
  };
  return {
    rows,
    calls,
    reader,
    answer,
    /** Holds every read started from now on until `release()`. */
    hold(): void {
      gate = new Promise((r) => (open = r));
    },
    release(): void {
      gate = null;
      open();
    },
  };
}

export function fakeBus() {
  const windows = new Map<string, Set<(u: WindowUpdate) => void>>();
  const gaps = new Set<(g: BusGap) => void>();
  const pendingActive = new Map<string, (() => void)[]>();
  let deferActive = false;
  const bus: CacheBus = {
    subscribeWindows(tenantId, handler, onActive) {
      const set = windows.get(tenantId) ?? windows.set(tenantId, new Set()).get(tenantId)!;
      set.add(handler);
      if (onActive && deferActive) pendingActive.set(tenantId, [...(pendingActive.get(tenantId) ?? []), onActive]);
      else onActive?.();
      return () => {
        set.delete(handler);
        if (set.size === 0) windows.delete(tenantId);
      };
    },
    subscribeGaps(handler) {
      gaps.add(handler);
      return () => gaps.delete(handler);
    },
  };
  return {
    bus,
    /** Tenants with a live subscription. */
    subscribed: () => [...windows.keys()],
    /** Subscriptions made from now on become active only on `activate`. */
    deferActivation: (on: boolean) => {
      deferActive = on;
    },
    activate(tenantId: string): void {
      for (const f of pendingActive.get(tenantId) ?? []) f();
      pendingActive.delete(tenantId);
    },
    /** Delivers the window update of one minute (kind correction: the window was final). */
    publish(tenantId: string, windowStart: number): void {
      const u = { tenantId, currency: 'USD', windowStart, windowEnd: windowStart + MINUTE, revision: 2, final: true, kind: 'correction' } as WindowUpdate;
      for (const h of windows.get(tenantId) ?? []) h(u);
    },
    /** Delivers the update of one minute at `revision`, with its model cells (metric, value): the cache tells what changed. */
    publishCells(tenantId: string, windowStart: number, revision: number, cells: [metric: string, value: string][]): void {
      const u = {
        tenantId, currency: 'USD', windowStart, windowEnd: windowStart + MINUTE, revision, final: false, kind: 'partial',
        cells: cells.map(([metric, value]) => ({ metric, version: 1, dims: ['USD', 'pro'], value })),
      } as WindowUpdate;
      for (const h of windows.get(tenantId) ?? []) h(u);
    },
    gap(g: BusGap): void {
      for (const h of gaps) h(g);
    },
  };
}
