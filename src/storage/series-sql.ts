/**
 * The SQL pieces of the series read (src/storage/series-reader.ts): the tables it may
 * name, bucket expressions, the select parts every branch of its UNION ALL shares, so
 * the columns line up (`users_part` says what a row carries, see `columns`), and the
 * parameters every value travels in. The selects are composed in series-selects.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Granularity } from '../contracts/metrics.ts';
import { USERS_LOOKBACK_HOURS } from './users-hourly.ts';

export interface TableSpec {
  /** The column holding each row's start. */
  time: string;
  /** A bucket of this granularity is exactly one row. */
  rowGranularity: Granularity;
  /** Exact distinct users over many rows, optionally only rows matching a condition. */
  mergeUsers: (condition?: string) => string;
  /** Column with the distinct users of a row's interval over all currencies, if stored. */
  allCurrencyUsers: string | null;
  /**
   * Table whose rows give each user's previous active hour (migrations/0008), so distinct
   * users of a range up to `lookbackMs` long are a count, not a merge; longer ranges merge.
   */
  countedUsers: { table: string; lookbackMs: number } | null;
}

/**
 * Tables this reader may name (identifiers never come from input). `windows_hourly` is
 * the exact hourly rollup of `windows` (migrations/0005): the same metric columns, one
 * row per UTC hour; the caller picks it only when every bucket is a whole number of UTC
 * hours (src/resolvers/source.ts). Its users merge from plain key arrays (0007), which
 * count exactly what merging the uniqExact states counts, without rebuilding a hash
 * table per row first.
 */
export const TABLES: ReadonlyMap<string, TableSpec> = new Map([
  ['windows', { time: 'window_start', rowGranularity: 'MINUTE', mergeUsers: (c) => (c ? `uniqExactMergeIf(users, ${c})` : 'uniqExactMerge(users)'), allCurrencyUsers: null, countedUsers: null }],
  [
    'windows_hourly',
    {
      time: 'hour_start',
      rowGranularity: 'HOUR',
      mergeUsers: (c) => (c ? `uniqExactArrayIf(user_keys, ${c})` : 'uniqExactArray(user_keys)'),
      allCurrencyUsers: 'active_users_all_currencies',
      countedUsers: { table: 'users_hourly', lookbackMs: USERS_LOOKBACK_HOURS * 3_600_000 },
    },
  ],
]);

/**
 * Closed set of bucket expressions; `tz` is the time zone's placeholder (a bound
 * parameter). toStartOfWeek and toStartOfMonth return a Date (a local calendar day), so
 * it is turned back into that day's midnight instant in the same zone.
 */
export const BUCKET_SQL: Record<Granularity, (t: string, tz: string) => string> = {
  MINUTE: (t) => t,
  HOUR: (t, tz) => `toStartOfHour(${t}, ${tz})`,
  DAY: (t, tz) => `toStartOfDay(${t}, ${tz})`,
  WEEK: (t, tz) => `toDateTime(toStartOfWeek(${t}, 1, ${tz}), ${tz})`,
  MONTH: (t, tz) => `toDateTime(toStartOfMonth(${t}, ${tz}), ${tz})`,
};

const numbers = z.array(z.coerce.number());
const strings = z.array(z.string());
/** The read's result, column by column (thousands of rows: no object per row to parse). */
export const columns = z.object({
  branch: numbers,
  /** 0 = metrics (and stored per-row distinct users), 1 = merged distinct users only, 2 = a stored row as it is. */
  users_part: numbers,
  currency: strings,
  all_currencies: numbers,
  start_ms: numbers,
  is_total: numbers,
  windows: numbers,
  revenue: strings,
  purchases: numbers,
  signups: numbers,
  upgrades: numbers,
  churns: numbers,
  active_users: numbers,
  active_users_all: numbers,
  all_final: numbers,
  last_event_at_ms: numbers,
  trace_sample: z.array(strings),
});

// grouping(x) = 1 when x is aggregated away in that grouping set (SQL standard).
// The trace sample of a bucket is one window's sample (cheap: no set of every trace id).
// active_users / active_users_all are the stored per-row counts: right only where a
// bucket is one row (per currency / over all currencies); the reader ignores them elsewhere.
export const METRICS = (allCurrencyUsers: string | null, traces: boolean) => `0 AS users_part, toString(sum(revenue)) AS revenue,
       sum(purchases) AS purchases, sum(signups) AS signups, sum(upgrades) AS upgrades, sum(churns) AS churns,
       sum(active_users) AS active_users, ${allCurrencyUsers ? `max(${allCurrencyUsers})` : 'toUInt64(0)'} AS active_users_all,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms,
       ${traces ? 'arraySlice(any(trace_sample), 1, 5)' : "CAST([], 'Array(String)')"} AS trace_sample`;
/** A stored row as it is (part 2): the reader adds rows up into all-currency points and totals. */
export const ROW = (allCurrencyUsers: string | null, traces: boolean) => `2 AS users_part, toString(revenue) AS revenue,
       purchases, signups, upgrades, churns, active_users, ${allCurrencyUsers ?? 'toUInt64(0)'} AS active_users_all,
       final AS all_final, last_event_at_ms, ${traces ? 'arraySlice(trace_sample, 1, 5)' : "CAST([], 'Array(String)')"} AS trace_sample`;
export const USERS = (count: string) => `1 AS users_part, '0' AS revenue,
       toUInt64(0) AS purchases, toUInt64(0) AS signups, toUInt64(0) AS upgrades, toUInt64(0) AS churns,
       ${count} AS active_users, toUInt64(0) AS active_users_all,
       toUInt8(1) AS all_final, toInt64(0) AS last_event_at_ms, CAST([], 'Array(String)') AS trace_sample`;

/**
 * The bound parameters of one read. Every value (tenant, range ends, time zone,
 * currencies, branch numbers) enters the SQL only as a `{name:Type}` placeholder
 * returned by `bind`; SQL text holds identifiers from TABLES and fixed expressions only.
 */
export class QueryParams {
  readonly values: Record<string, unknown> = {};

  /** Records `value` under `name` and returns its placeholder; one name never carries two values. */
  bind(name: string, type: string, value: unknown): string {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad query parameter name: ${name}`);
    if (name in this.values && !isDeepStrictEqual(this.values[name], value)) throw new Error(`query parameter ${name} bound to two values`);
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}
