/**
 * Reads bucketed window aggregates for many series in ONE ClickHouse query. Each
 * distinct (range, granularity, time zone) — a dashboard's period and its comparison
 * period are two — is one UNION ALL branch; inside a branch one scan serves every
 * currency and the all-currency sum through GROUPING SETS:
 *   (currency, bucket), (currency)  → per-currency points and totals (breakdowns too)
 *   (bucket), ()                    → points and total over all currencies
 * Distinct users merge uniqExact states per bucket and over the range, so they are
 * never summed across windows; money is summed as Decimal(38, 6) and leaves as a string.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { Granularity } from '../contracts/metrics.ts';
import type { WindowValues } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { windowValueColumns } from './window-rows.ts';

export interface ReadBranch {
  /** Source table chosen by the caller (a closed set, see TABLES). */
  table: string;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  /** Currencies whose own points are needed; 'all' = every currency the tenant has (breakdowns). */
  currencies: readonly string[] | 'all';
  /** Also the sum over all currencies (series without a currency). */
  combined: boolean;
  /**
   * Distinct users are needed (ACTIVE_USERS, ARPU). Merging uniqExact states is most of
   * a read's cost, so branches that need no distinct count skip it (activeUsers = 0).
   */
  users: boolean;
}

export interface BucketRow extends WindowValues {
  allFinal: boolean;
  lastEventAt: number;
  traceSample: string[];
}

export interface Aggregate {
  buckets: Map<number, BucketRow>;
  /** null when the range holds no window at all. */
  total: BucketRow | null;
}

export interface BranchResult {
  combined: Aggregate;
  byCurrency: Map<string, Aggregate>;
}

/** Identifies the branch a request needs; requests with equal keys share one branch. */
export const branchKey = (b: Pick<ReadBranch, 'table' | 'from' | 'to' | 'granularity' | 'timeZone'>): string =>
  JSON.stringify([b.table, b.from, b.to, b.granularity, b.timeZone]);

/**
 * Tables this reader may name, with the column holding each row's start (identifiers
 * never come from input). `windows_hourly` is the exact hourly rollup of `windows`
 * (migrations/0005): same metric columns, one row per UTC hour; the caller picks it only
 * when every bucket is a whole number of UTC hours (src/resolvers/source.ts).
 */
const TABLES: ReadonlyMap<string, string> = new Map([
  ['windows', 'window_start'],
  ['windows_hourly', 'hour_start'],
]);

/**
 * Closed set of bucket expressions; the time zone is a typed parameter. toStartOfWeek
 * and toStartOfMonth return a Date (a local calendar day), so it is turned back into
 * that day's midnight instant in the same zone.
 */
const BUCKET_SQL: Record<Granularity, (t: string, tz: string) => string> = {
  MINUTE: (t) => t,
  HOUR: (t, tz) => `toStartOfHour(${t}, {${tz}:String})`,
  DAY: (t, tz) => `toStartOfDay(${t}, {${tz}:String})`,
  WEEK: (t, tz) => `toDateTime(toStartOfWeek(${t}, 1, {${tz}:String}), {${tz}:String})`,
  MONTH: (t, tz) => `toDateTime(toStartOfMonth(${t}, {${tz}:String}), {${tz}:String})`,
};

const row = windowValueColumns.extend({
  branch: z.coerce.number(),
  all_currencies: z.coerce.number(),
  is_total: z.coerce.number(),
  currency: z.string(),
  start_ms: z.coerce.number(),
  windows: z.coerce.number(),
  all_final: z.coerce.number(),
  last_event_at_ms: z.coerce.number(),
  trace_sample: z.array(z.string()),
});

// grouping(x) = 1 when x is aggregated away in that grouping set (SQL standard).
// The trace sample of a bucket is one window's sample (cheap: no set of every trace id).
const AGGREGATES = (users: boolean) => `grouping(start_ms) AS is_total, count() AS windows, toString(sum(revenue)) AS revenue, sum(purchases) AS purchases,
       sum(signups) AS signups, sum(upgrades) AS upgrades, sum(churns) AS churns, ${users ? 'uniqExactMerge(users)' : 'toUInt64(0)'} AS active_users,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms, arraySlice(any(trace_sample), 1, 5) AS trace_sample`;

const emptyAggregate = (): Aggregate => ({ buckets: new Map(), total: null });

export function createSeriesReader(db: ClickHouse) {
  return {
    /** One query for all branches of one tenant; results in the order of `branches`. */
    async read(tenantId: string, branches: readonly ReadBranch[]): Promise<BranchResult[]> {
      if (branches.length === 0) return [];
      const params: Record<string, unknown> = { tenant: tenantId };
      const sql = branches.map((b, i) => {
        const t = TABLES.get(b.table);
        if (!t) throw new Error(`series reader cannot read table "${b.table}"`);
        params[`b${i}_from`] = b.from;
        params[`b${i}_to`] = b.to;
        params[`b${i}_tz`] = b.timeZone;
        const filterCurrencies = !b.combined && b.currencies !== 'all';
        if (filterCurrencies) params[`b${i}_cur`] = b.currencies;
        const perCurrency = b.currencies === 'all' || b.currencies.length > 0;
        const sets = [...(perCurrency ? ['(currency, start_ms)', '(currency)'] : []), ...(b.combined ? ['(start_ms)', '()'] : [])];
        // grouping(currency) is only valid when some set groups by currency.
        const currencyColumns = perCurrency ? 'currency, grouping(currency) AS all_currencies' : "'' AS currency, toUInt8(1) AS all_currencies";
        return `SELECT ${i} AS branch, ${currencyColumns}, toInt64(toUnixTimestamp(${BUCKET_SQL[b.granularity](t, `b${i}_tz`)})) * 1000 AS start_ms, ${AGGREGATES(b.users)}
                FROM ${b.table} FINAL
                WHERE tenant_id = {tenant:String}
                  AND ${t} >= fromUnixTimestamp64Milli({b${i}_from:Int64}, 'UTC')
                  AND ${t} < fromUnixTimestamp64Milli({b${i}_to:Int64}, 'UTC')
                  ${filterCurrencies ? `AND currency IN {b${i}_cur:Array(String)}` : ''}
                GROUP BY GROUPING SETS (${sets.join(', ')})`;
      });
      const rows = await db.query({ queryId: 'series.read', sql: sql.join('\nUNION ALL\n'), params, row });
      const results: BranchResult[] = branches.map(() => ({ combined: emptyAggregate(), byCurrency: new Map() }));
      for (const r of rows) {
        if (r.windows === 0) continue; // the empty grouping set yields one row even over no windows
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
        const result = results[r.branch]!;
        let target = result.combined;
        if (r.all_currencies === 0) {
          target = result.byCurrency.get(r.currency) ?? emptyAggregate();
          result.byCurrency.set(r.currency, target);
        }
        if (r.is_total === 1) target.total = value;
        else target.buckets.set(r.start_ms, value);
      }
      return results;
    },
  };
}

export type SeriesReader = ReturnType<typeof createSeriesReader>;
