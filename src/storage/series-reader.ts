/**
 * Reads bucketed window aggregates for many series in ONE ClickHouse query: the
 * distinct (currency, range, granularity, time zone) shapes become UNION ALL
 * branches, each returning every metric per bucket plus a whole-range total row
 * (start_ms = -1). Distinct users merge uniqExact states, per bucket and over the
 * range, so they are never summed across windows.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { Granularity } from '../contracts/metrics.ts';
import type { WindowValues } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';

export interface SeriesShape {
  /** null = every currency (not meaningful for revenue; callers check). */
  currency: string | null;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
}

export interface BucketRow extends WindowValues {
  allFinal: boolean;
  lastEventAt: number;
  traceSample: string[];
}

export interface ShapeResult {
  buckets: Map<number, BucketRow>;
  total: BucketRow | null;
}

/** Closed set of bucket expressions; the time zone is a typed parameter. */
const BUCKET_SQL: Record<Granularity, (tz: string) => string> = {
  MINUTE: () => 'window_start',
  HOUR: (tz) => `toStartOfHour(window_start, {${tz}:String})`,
  DAY: (tz) => `toStartOfDay(window_start, {${tz}:String})`,
};

const row = z.object({
  branch: z.coerce.number(),
  start_ms: z.coerce.number(),
  revenue: z.string(),
  purchases: z.coerce.number(),
  signups: z.coerce.number(),
  upgrades: z.coerce.number(),
  churns: z.coerce.number(),
  active_users: z.coerce.number(),
  all_final: z.coerce.number(),
  last_event_at_ms: z.coerce.number(),
  trace_sample: z.array(z.string()),
});

const AGGREGATES = `toString(sum(revenue)) AS revenue, sum(purchases) AS purchases, sum(signups) AS signups,
       sum(upgrades) AS upgrades, sum(churns) AS churns, uniqExactMerge(users) AS active_users,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms,
       arraySlice(groupUniqArrayArray(trace_sample), 1, 5) AS trace_sample`;

export const shapeKey = (s: SeriesShape): string => JSON.stringify([s.currency, s.from, s.to, s.granularity, s.timeZone]);

export function createSeriesReader(db: ClickHouse) {
  return {
    /** One query for all shapes of one tenant; results in the order of `shapes`. */
    async read(tenantId: string, shapes: readonly SeriesShape[]): Promise<ShapeResult[]> {
      if (shapes.length === 0) return [];
      const params: Record<string, unknown> = { tenant: tenantId };
      const branches = shapes.map((s, i) => {
        params[`b${i}_from`] = s.from;
        params[`b${i}_to`] = s.to;
        params[`b${i}_tz`] = s.timeZone;
        if (s.currency !== null) params[`b${i}_cur`] = s.currency;
        const where = `tenant_id = {tenant:String}
            AND window_start >= fromUnixTimestamp64Milli({b${i}_from:Int64}, 'UTC')
            AND window_start < fromUnixTimestamp64Milli({b${i}_to:Int64}, 'UTC')
            ${s.currency === null ? '' : `AND currency = {b${i}_cur:String}`}`;
        const bucket = BUCKET_SQL[s.granularity](`b${i}_tz`);
        return `SELECT ${i} AS branch, toInt64(toUnixTimestamp(${bucket})) * 1000 AS start_ms, ${AGGREGATES}
                FROM windows FINAL WHERE ${where} GROUP BY start_ms
                UNION ALL
                SELECT ${i} AS branch, toInt64(-1) AS start_ms, ${AGGREGATES}
                FROM windows FINAL WHERE ${where}`;
      });
      const rows = await db.query({ queryId: 'series.read', sql: branches.join('\nUNION ALL\n'), params, row });
      const results: ShapeResult[] = shapes.map(() => ({ buckets: new Map(), total: null }));
      for (const r of rows) {
        const value: BucketRow = {
          revenue: canonicalDecimal(r.revenue),
          purchases: r.purchases,
          signups: r.signups,
          upgrades: r.upgrades,
          churns: r.churns,
          activeUsers: r.active_users,
          allFinal: r.all_final === 1,
          lastEventAt: r.last_event_at_ms,
          traceSample: r.trace_sample,
        };
        const target = results[r.branch]!;
        // The total row of an empty range has no windows at all: keep it null.
        if (r.start_ms === -1) target.total = r.last_event_at_ms > 0 || r.purchases + r.signups + r.upgrades + r.churns > 0 ? value : null;
        else target.buckets.set(r.start_ms, value);
      }
      return results;
    },
  };
}

export type SeriesReader = ReturnType<typeof createSeriesReader>;
