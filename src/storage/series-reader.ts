/**
 * Reads bucketed window aggregates for many series in ONE ClickHouse query. Each
 * distinct (range, granularity, time zone) — a dashboard's period and its comparison
 * period are two — is a branch of UNION ALL selects; one scan serves every currency and
 * the all-currency sum through GROUPING SETS:
 *   (currency, bucket), (currency)  → per-currency points and totals (breakdowns too)
 *   (bucket), ()                    → points and total over all currencies
 * Money is summed as Decimal(38, 6) and leaves as a string.
 *
 * Distinct users are never summed across rows. Where a bucket is one stored row (HOUR
 * buckets of `windows_hourly`, MINUTE buckets of `windows`) its stored exact count is
 * read as is; every other bucket and every total is an exact merge, in its own select
 * with only the grouping sets and currencies that asked for distinct users — merging is
 * most of a read's cost, and the same merge is never done twice in one read.
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
   * Where distinct users are needed (ACTIVE_USERS, ARPU): over all currencies, and for
   * these currencies (a subset of `currencies`). Elsewhere activeUsers reads 0.
   */
  users: { combined: boolean; currencies: readonly string[] | 'all' };
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

interface TableSpec {
  /** The column holding each row's start. */
  time: string;
  /** A bucket of this granularity is exactly one row. */
  rowGranularity: Granularity;
  /** Exact distinct users over many rows. */
  mergeUsers: string;
  /** Column with the distinct users of a row's interval over all currencies, if stored. */
  allCurrencyUsers: string | null;
}

/**
 * Tables this reader may name (identifiers never come from input). `windows_hourly` is
 * the exact hourly rollup of `windows` (migrations/0005): the same metric columns, one
 * row per UTC hour; the caller picks it only when every bucket is a whole number of UTC
 * hours (src/resolvers/source.ts). Its users merge from plain key arrays (0007), which
 * count exactly what merging the uniqExact states counts, without rebuilding a hash
 * table per row first.
 */
const TABLES: ReadonlyMap<string, TableSpec> = new Map([
  ['windows', { time: 'window_start', rowGranularity: 'MINUTE', mergeUsers: 'uniqExactMerge(users)', allCurrencyUsers: null }],
  ['windows_hourly', { time: 'hour_start', rowGranularity: 'HOUR', mergeUsers: 'uniqExactArray(user_keys)', allCurrencyUsers: 'active_users_all_currencies' }],
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
  /** 0 = metrics (and stored per-row distinct users), 1 = merged distinct users only. */
  users_part: z.coerce.number(),
  active_users_all: z.coerce.number(),
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
// active_users / active_users_all are the stored per-row counts: right only where a
// bucket is one row (per currency / over all currencies); the reader ignores them elsewhere.
const METRICS = (allCurrencyUsers: string | null) => `0 AS users_part, count() AS windows, toString(sum(revenue)) AS revenue,
       sum(purchases) AS purchases, sum(signups) AS signups, sum(upgrades) AS upgrades, sum(churns) AS churns,
       sum(active_users) AS active_users, ${allCurrencyUsers ? `max(${allCurrencyUsers})` : 'toUInt64(0)'} AS active_users_all,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms, arraySlice(any(trace_sample), 1, 5) AS trace_sample`;
const USERS = (merge: string) => `1 AS users_part, count() AS windows, '0' AS revenue,
       toUInt64(0) AS purchases, toUInt64(0) AS signups, toUInt64(0) AS upgrades, toUInt64(0) AS churns,
       ${merge} AS active_users, toUInt64(0) AS active_users_all,
       toUInt8(1) AS all_final, toInt64(0) AS last_event_at_ms, CAST([], 'Array(String)') AS trace_sample`;

const emptyAggregate = (): Aggregate => ({ buckets: new Map(), total: null });

export function createSeriesReader(db: ClickHouse) {
  return {
    /** One query for all branches of one tenant; results in the order of `branches`. */
    async read(tenantId: string, branches: readonly ReadBranch[]): Promise<BranchResult[]> {
      if (branches.length === 0) return [];
      const params: Record<string, unknown> = { tenant: tenantId };
      const bucketIsRow = branches.map((b) => TABLES.get(b.table)?.rowGranularity === b.granularity);
      const sql = branches.flatMap((b, i) => {
        const t = TABLES.get(b.table);
        if (!t) throw new Error(`series reader cannot read table "${b.table}"`);
        params[`b${i}_from`] = b.from;
        params[`b${i}_to`] = b.to;
        params[`b${i}_tz`] = b.timeZone;
        const select = (o: { part: string; currencies: readonly string[] | 'all'; sets: string[]; filterName: string }) => {
          const filter = o.currencies !== 'all';
          if (filter) params[`b${i}_${o.filterName}`] = o.currencies;
          // grouping(x) is only valid when some set groups by x.
          const currencyColumns = o.sets.some((x) => x.includes('currency')) ? 'currency, grouping(currency) AS all_currencies' : "'' AS currency, toUInt8(1) AS all_currencies";
          const bucket = `toInt64(toUnixTimestamp(${BUCKET_SQL[b.granularity](t.time, `b${i}_tz`)})) * 1000`;
          const startColumns = o.sets.some((x) => x.includes('start_ms')) ? `${bucket} AS start_ms, grouping(start_ms) AS is_total` : 'toInt64(0) AS start_ms, toUInt8(1) AS is_total';
          return `SELECT ${i} AS branch, ${currencyColumns}, ${startColumns}, ${o.part}
                  FROM ${b.table} FINAL
                  WHERE tenant_id = {tenant:String}
                    AND ${t.time} >= fromUnixTimestamp64Milli({b${i}_from:Int64}, 'UTC')
                    AND ${t.time} < fromUnixTimestamp64Milli({b${i}_to:Int64}, 'UTC')
                    ${filter ? `AND currency IN {b${i}_${o.filterName}:Array(String)}` : ''}
                  GROUP BY GROUPING SETS (${o.sets.join(', ')})`;
        };
        const perCurrency = b.currencies === 'all' || b.currencies.length > 0;
        const selects = [
          select({
            part: METRICS(t.allCurrencyUsers),
            currencies: b.combined ? 'all' : b.currencies,
            sets: [...(perCurrency ? ['(currency, start_ms)', '(currency)'] : []), ...(b.combined ? ['(start_ms)', '()'] : [])],
            filterName: 'cur',
          }),
        ];
        // Merged distinct users, only where no stored count answers.
        if (b.users.combined) {
          const storedPoints = bucketIsRow[i] && t.allCurrencyUsers !== null;
          selects.push(select({ part: USERS(t.mergeUsers), currencies: 'all', sets: [...(storedPoints ? [] : ['(start_ms)']), '()'], filterName: 'ucur' }));
        }
        if (b.users.currencies === 'all' || b.users.currencies.length > 0) {
          const sets = [...(bucketIsRow[i] ? [] : ['(currency, start_ms)']), '(currency)'];
          selects.push(select({ part: USERS(t.mergeUsers), currencies: b.users.currencies, sets, filterName: 'ucur' }));
        }
        return selects;
      });
      const rows = await db.query({ queryId: 'series.read', sql: sql.join('\nUNION ALL\n'), params, row });
      const results: BranchResult[] = branches.map(() => ({ combined: emptyAggregate(), byCurrency: new Map() }));
      const targetOf = (r: (typeof rows)[number]): Aggregate => {
        const result = results[r.branch]!;
        if (r.all_currencies === 1) return result.combined;
        let target = result.byCurrency.get(r.currency);
        if (!target) result.byCurrency.set(r.currency, (target = emptyAggregate()));
        return target;
      };
      // The empty grouping set yields one row even over no windows: skip those.
      for (const r of rows) {
        if (r.windows === 0 || r.users_part === 1) continue;
        const value: BucketRow = {
          revenue: canonicalDecimal(r.revenue),
          purchases: r.purchases,
          signups: r.signups,
          upgrades: r.upgrades,
          churns: r.churns,
          activeUsers: r.is_total === 0 && bucketIsRow[r.branch] ? (r.all_currencies === 1 ? r.active_users_all : r.active_users) : 0,
          allFinal: r.all_final === 1,
          lastEventAt: r.last_event_at_ms,
          traceSample: r.trace_sample,
        };
        const target = targetOf(r);
        if (r.is_total === 1) target.total = value;
        else target.buckets.set(r.start_ms, value);
      }
      for (const r of rows) {
        if (r.windows === 0 || r.users_part === 0) continue;
        const target = targetOf(r);
        const value = r.is_total === 1 ? target.total : target.buckets.get(r.start_ms);
        if (value) value.activeUsers = r.active_users;
      }
      return results;
    },
  };
}

export type SeriesReader = ReturnType<typeof createSeriesReader>;
