/**
 * The dashboard's data, and how a live window update changes it. Pure.
 *
 * A WindowUpdate carries the new ABSOLUTE value of one one-minute window. For metrics
 * that add up (revenue and the counts), a bucket's new value is
 *   bucket − (the window's value we already counted) + (the window's new value),
 * so applying an update twice, or one the first query already contained, changes
 * nothing. The "value we already counted" comes from the Tail series (recent minute
 * windows, read in the same first query) and from every update applied since.
 * When it isn't known (a correction to an older window) the answer is `fetchBucket`:
 * read that bucket's minute windows (BucketWindows) and `replaceBucket` — the bucket is
 * the sum of its windows, so baseline and bucket come from one consistent read. For
 * ACTIVE_USERS (distinct users don't add up across minutes) it is `refreshDistinct`.
 */
import { fromMicros, percentChange, toMicros } from './decimal.ts';
import type { Period } from './period.ts';

export const METRICS = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS'] as const;
export type Metric = (typeof METRICS)[number];
export const ADDITIVE_METRICS = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS'] as const satisfies readonly Metric[];
export type AdditiveMetric = (typeof ADDITIVE_METRICS)[number];
const ADDITIVE: ReadonlySet<Metric> = new Set(ADDITIVE_METRICS);

export interface PointData {
  start: number;
  value: string;
  final?: boolean;
}
export interface SeriesData {
  total: string;
  points: PointData[];
}
export interface FreshnessData {
  dataAsOf: number;
  ageMs: number;
  staleThresholdMs: number;
  isStale: boolean;
  lastEventAt: number | null;
}
export interface MetricData {
  current: SeriesData;
  previous: SeriesData;
  previousToDate: string;
  /** Recent one-minute windows (absent for ACTIVE_USERS). */
  tail: PointData[] | null;
}
export interface DashboardData {
  freshness: FreshnessData;
  metrics: Record<Metric, MetricData>;
  /** From the metric catalog, by metric name (absent entries are fine). */
  catalog?: Record<string, { unit: string; description: string }>;
}
export interface WindowUpdateData {
  metric: Metric;
  currency: string;
  windowStart: number;
  value: string;
  revision: number;
  freshness: FreshnessData;
}

export type ApplyResult = 'applied' | 'unchanged' | 'ignored' | 'refreshDistinct' | 'fetchBucket';

export interface TileView {
  metric: Metric;
  /** Canonical decimal string, exactly what the API would answer for this period's total. */
  value: string;
  previousToDate: string;
  /** Percent vs the previous period up to the same point in time; null if that was 0. */
  changePercent: number | null;
}

export interface ChartView {
  /** Bucket starts (ms) of the current period. */
  starts: number[];
  /** Current period; null for buckets that haven't started yet. */
  current: (number | null)[];
  /** The previous period, bucket i beside bucket i of the current one. */
  previous: (number | null)[];
}

interface MetricState {
  starts: number[];
  values: bigint[];
  total: bigint;
  previous: bigint[];
  previousToDate: bigint;
  /** windowStart → value already counted in `values`/`total`. */
  windows: Map<number, bigint>;
}

export function createDashboardState(data: DashboardData, period: Period, currency: string) {
  const metrics = new Map<Metric, MetricState>();
  /** metric:windowStart → highest revision applied; a message not higher is old news. */
  const revisions = new Map<string, number>();
  for (const metric of METRICS) {
    const d = data.metrics[metric];
    const windows = new Map<number, bigint>();
    for (const p of d.tail ?? []) windows.set(p.start, toMicros(p.value));
    // At MINUTE granularity every bucket is a window: the whole period is a baseline.
    if (period.granularity === 'MINUTE' && d.tail) for (const p of d.current.points) windows.set(p.start, toMicros(p.value));
    metrics.set(metric, {
      starts: d.current.points.map((p) => p.start),
      values: d.current.points.map((p) => toMicros(p.value)),
      total: toMicros(d.current.total),
      previous: d.previous.points.map((p) => toMicros(p.value)),
      previousToDate: toMicros(d.previousToDate),
      windows,
    });
  }

  /** Index of the bucket containing `t` (buckets are sorted; the last ends at period.to). */
  function indexOf(starts: number[], t: number): number {
    let lo = 0;
    let hi = starts.length - 1;
    if (hi < 0 || t < starts[0]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  return {
    period,
    currency,
    apply(u: WindowUpdateData): ApplyResult {
      if (u.currency !== currency || u.windowStart < period.from || u.windowStart >= period.to) return 'ignored';
      const key = `${u.metric}:${u.windowStart}`;
      if ((revisions.get(key) ?? -1) >= u.revision) return 'ignored';
      if (!ADDITIVE.has(u.metric)) {
        revisions.set(key, u.revision);
        return 'refreshDistinct';
      }
      const m = metrics.get(u.metric)!;
      // Windows at or after tailTo had no data when the first query ran (they were in the future).
      const counted = m.windows.get(u.windowStart) ?? (u.windowStart >= period.tailTo ? 0n : undefined);
      if (counted === undefined) return 'fetchBucket'; // not counted as seen: replayed after the fetch
      revisions.set(key, u.revision);
      const value = toMicros(u.value);
      m.windows.set(u.windowStart, value);
      const delta = value - counted;
      if (delta === 0n) return 'unchanged';
      const i = indexOf(m.starts, u.windowStart);
      if (i < 0) return 'ignored';
      m.values[i] = m.values[i]! + delta;
      m.total += delta;
      return 'applied';
    },
    /** [start, end) of the chart bucket holding `t`. */
    bucketOf(t: number): { start: number; end: number } | null {
      const starts = metrics.get('REVENUE')!.starts;
      const i = indexOf(starts, t);
      return i < 0 ? null : { start: starts[i]!, end: starts[i + 1] ?? period.to };
    },
    /**
     * A bucket re-read as its minute windows (one read for all additive metrics): new
     * baselines, value = their sum. Revisions seen in it are forgotten: the caller replays
     * every update received since the read was asked for, and each applies exactly once more.
     */
    replaceBucket(start: number, windows: Record<AdditiveMetric, PointData[]>): void {
      for (const metric of ADDITIVE_METRICS) {
        const m = metrics.get(metric)!;
        const i = indexOf(m.starts, start);
        if (i < 0 || m.starts[i] !== start) continue;
        let sum = 0n;
        for (const p of windows[metric]) {
          const v = toMicros(p.value);
          m.windows.set(p.start, v);
          revisions.delete(`${metric}:${p.start}`);
          sum += v;
        }
        m.total += sum - m.values[i]!;
        m.values[i] = sum;
      }
    },
    /** Replaces ACTIVE_USERS with a fresh read (it is never computed client-side). */
    replaceDistinct(current: SeriesData): void {
      const m = metrics.get('ACTIVE_USERS')!;
      m.starts = current.points.map((p) => p.start);
      m.values = current.points.map((p) => toMicros(p.value));
      m.total = toMicros(current.total);
    },
    tile(metric: Metric): TileView {
      const m = metrics.get(metric)!;
      return { metric, value: fromMicros(m.total), previousToDate: fromMicros(m.previousToDate), changePercent: percentChange(m.total, m.previousToDate) };
    },
    chart(metric: Metric, now: number): ChartView {
      const m = metrics.get(metric)!;
      const toNumber = (v: bigint) => Number(fromMicros(v));
      return {
        starts: m.starts,
        current: m.values.map((v, i) => (m.starts[i]! <= now ? toNumber(v) : null)),
        previous: m.starts.map((_, i) => (m.previous[i] === undefined ? null : toNumber(m.previous[i]!))),
      };
    },
  };
}

export type DashboardState = ReturnType<typeof createDashboardState>;
