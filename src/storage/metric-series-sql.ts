/**
 * The SQL pieces of the model's series read (metric-series-reader.ts) over the narrow
 * tables of migrations/0010: the tables it may name, the queries a read answers, which
 * queries a stored row belongs to, and the columns every select of its UNION ALL returns.
 * Every value (tenant, metric, version, ranges, dimension positions and values, time zone)
 * is a bound parameter (QueryParams of query-params.ts), bucket expressions are its BUCKET_SQL.
 */
import { z } from 'zod';
import type { Granularity } from '../contracts/metrics.ts';
import { BUCKET_SQL, type QueryParams } from './query-params.ts';

/** Tables this reader may name (identifiers never come from input), and each one's time column. */
export const METRIC_TABLES: ReadonlyMap<string, { time: string }> = new Map([
  ['metric_windows', { time: 'window_start' }],
  ['metric_windows_hourly', { time: 'hour_start' }],
  // Not a table: the whole hours of a range from metric_windows_hourly and the minutes
  // before its first and after its last whole hour from metric_windows (`hoursAndEdges`).
  ['metric_windows_edges', { time: 't' }],
]);

/** A scan of metric_windows_edges covers one range: its edges are the range's own. */
export const EDGES_TABLE = 'metric_windows_edges';
const HOUR_MS = 3_600_000;

/** A condition on one stored dimension: `index` is its position in the metric's `by` (0-based). */
export interface DimFilter {
  index: number;
  in: readonly string[] | null;
  notIn: readonly string[] | null;
}

/** One stored metric version over one range, filtered, optionally split by one dimension. */
export interface MetricQuery {
  table: string;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  metric: string;
  version: number;
  /** A distinct metric: states merged, never summed. */
  distinct: boolean;
  filters: readonly DimFilter[];
  /**
   * Split by the dimension at `index`. `top` null: every value (currency); else the `top`
   * values with the largest total of the group's leader, the rest (and stored `__other__`
   * and null slices) in one `__other__` slice. Queries of one group (a formula's operands)
   * share the leader's ranking, so their slices line up.
   */
  breakdown: { index: number; top: number | null; group: number; leader: boolean } | null;
  /**
   * Distinct metrics, series and every-value breakdowns only: also return the merged
   * users (128-bit keys, hex) of every total and of the buckets starting at these instants,
   * so two queries splitting a range can be unioned exactly (the series cache, split.ts).
   */
  keysAt?: readonly number[];
}

/** Identifies a query; requests with equal keys share it. */
export const metricQueryKey = (q: MetricQuery): string =>
  JSON.stringify([q.table, q.from, q.to, q.granularity, q.timeZone, q.metric, q.version, q.distinct, q.filters, q.breakdown, q.keysAt ?? null]);

/** Queries read by one select: same table, granularity and time zone, all series or all breakdowns (and, on the edges, the same range). */
export interface MetricScan {
  name: string;
  table: string;
  time: string;
  granularity: Granularity;
  timeZone: string;
  /** Indices into the read's queries. */
  indices: readonly number[];
}

/** Whether stored row `q` of the scan counts for query i: its metric version, range and filters. */
function belongs(p: QueryParams, s: MetricScan, q: MetricQuery, i: number): string {
  const t = s.time;
  const conds = [
    `metric = ${p.bind(`q${i}_m`, 'String', q.metric)}`,
    `metric_version = ${p.bind(`q${i}_v`, 'UInt16', q.version)}`,
    `${t} >= fromUnixTimestamp64Milli(${p.bind(`q${i}_from`, 'Int64', q.from)}, 'UTC')`,
    `${t} < fromUnixTimestamp64Milli(${p.bind(`q${i}_to`, 'Int64', q.to)}, 'UTC')`,
  ];
  q.filters.forEach((f, k) => {
    const dim = `dims[${p.bind(`q${i}_f${k}`, 'UInt32', f.index + 1)}]`;
    if (f.in) conds.push(`has(${p.bind(`q${i}_f${k}_in`, 'Array(String)', f.in)}, ${dim})`);
    if (f.notIn) conds.push(`NOT has(${p.bind(`q${i}_f${k}_out`, 'Array(String)', f.notIn)}, ${dim})`);
  });
  return `if(${conds.join(' AND ')}, ${p.bind(`q${i}`, 'Int32', i)}, -1)`;
}

/**
 * The scan's FROM … ARRAY JOIN … WHERE: every stored row once per query it belongs to
 * (`q`), only the tenant's rows of the queries' metric versions and overall range. The
 * source is named `src` (its columns as `src.users` where a select's alias shadows them).
 */
export function scanSource(p: QueryParams, tenantId: string, s: MetricScan, queries: readonly MetricQuery[]): string {
  const qs = s.indices.map((i) => queries[i]!);
  const pairs = [...new Map(qs.map((q) => [`${q.metric}@${q.version}`, q])).values()].map(
    (q, k) => `(${p.bind(`${s.name}_m${k}`, 'String', q.metric)}, ${p.bind(`${s.name}_v${k}`, 'UInt16', q.version)})`,
  );
  const from = p.bind(`${s.name}_from`, 'Int64', Math.min(...qs.map((q) => q.from)));
  const to = p.bind(`${s.name}_to`, 'Int64', Math.max(...qs.map((q) => q.to)));
  const table = s.table === EDGES_TABLE ? hoursAndEdges(p, s, qs[0]!, `tenant_id = ${p.bind('tenant', 'String', tenantId)} AND (metric, metric_version) IN (${pairs.join(', ')})`) + ' AS src' : `${s.table} AS src FINAL`;
  return `FROM ${table}
  ARRAY JOIN arrayFilter(x -> x >= 0, [${s.indices.map((i) => belongs(p, s, queries[i]!, i)).join(', ')}]) AS q
  WHERE tenant_id = ${p.bind('tenant', 'String', tenantId)} AND (metric, metric_version) IN (${pairs.join(', ')})
    AND ${s.time} >= fromUnixTimestamp64Milli(${from}, 'UTC') AND ${s.time} < fromUnixTimestamp64Milli(${to}, 'UTC')`;
}

/**
 * The rows of one range [from, to) as one source with time column `t`: the whole hours from
 * metric_windows_hourly (slices already merged), the minutes of the partial hours at either
 * end from metric_windows. Exact: both are exact, and every bucket (whole hours: see
 * tableFor in src/resolvers/model-request.ts) takes each minute from exactly one of them.
 */
function hoursAndEdges(p: QueryParams, s: MetricScan, q: MetricQuery, rows: string): string {
  const ms = (name: string, v: number) => `fromUnixTimestamp64Milli(${p.bind(`${s.name}_${name}`, 'Int64', v)}, 'UTC')`;
  const [from, hoursFrom, hoursTo, to] = [ms('e0', q.from), ms('e1', Math.ceil(q.from / HOUR_MS) * HOUR_MS), ms('e2', Math.floor(q.to / HOUR_MS) * HOUR_MS), ms('e3', q.to)];
  const columns = 'tenant_id, metric, metric_version, dims, final, value, users, last_event_at_ms';
  return `(SELECT ${columns}, hour_start AS t FROM metric_windows_hourly FINAL WHERE ${rows} AND hour_start >= ${hoursFrom} AND hour_start < ${hoursTo}
    UNION ALL
    SELECT ${columns}, window_start AS t FROM metric_windows FINAL
    WHERE ${rows} AND ((window_start >= ${from} AND window_start < ${hoursFrom}) OR (window_start >= ${hoursTo} AND window_start < ${to})))`;
}

/** Each row's bucket start in ms (minutes are the same instants in every zone: no zone to bind). */
export const bucketOf = (p: QueryParams, s: MetricScan): string =>
  `toInt64(toUnixTimestamp(${s.granularity === 'MINUTE' ? s.time : BUCKET_SQL[s.granularity](s.time, p.bind(`${s.name}_tz`, 'String', s.timeZone))})) * 1000`;

/** Per query of the scan, a bound value looked up by `q` (e.g. its breakdown's dimension position). */
export const perQuery = (p: QueryParams, s: MetricScan, what: string, type: string, values: readonly (number | string)[], fallback: string): string =>
  `transform(q, ${p.bind(`${s.name}_ids`, 'Array(Int32)', [...s.indices])}, ${p.bind(`${s.name}_${what}`, `Array(${type})`, values)}, ${fallback})`;

/** The read's result, column by column. */
export const metricColumns = z.object({
  q: z.array(z.coerce.number()),
  /** The breakdown's dimension value ('' for a series). */
  slice: z.array(z.string()),
  start_ms: z.array(z.coerce.number()),
  is_total: z.array(z.coerce.number()),
  rows: z.array(z.coerce.number()),
  /** Sum of `value` (count or sum metrics), exact. */
  value: z.array(z.string()),
  /** Distinct metrics: the merged exact count. */
  users: z.array(z.coerce.number()),
  all_final: z.array(z.coerce.number()),
  last_event_at_ms: z.array(z.coerce.number()),
  /** Trace selects only (trace-samples.ts): a bucket's sample. */
  traces: z.array(z.array(z.string())),
  /** Queries with `keysAt` only: the merged users' uniqExact state (hex), else ''. */
  keys: z.array(z.string()),
});
