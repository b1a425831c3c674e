/**
 * The selects of the model's series read, one function per kind, each one SELECT of the
 * read's UNION ALL (columns as `metricColumns`), values bound in the read's QueryParams:
 * - seriesSelect:    per query, every bucket and the total over its range;
 * - breakdownSelect: per query and value of its breakdown dimension, every bucket and
 *                    total; with `top`, the values beyond the leader's top N folded into
 *                    one `__other__` slice, ranked and folded in ClickHouse.
 * Slices of one cell (the base windows' currencies) are summed, distinct states merged
 * (uniqExactMerge), never counts added; a query with `keysAt` also gets the merged keys.
 */
import { OTHER_VALUE as OTHER } from '../model/types.ts';
import { bucketOf, perQuery, scanSource, type MetricQuery, type MetricScan } from './metric-series-sql.ts';
import type { QueryParams } from './query-params.ts';

/** Trace samples come from their own select (trace-samples.ts). */
const NO_TRACES = "CAST([], 'Array(String)') AS traces";

const NO_KEYS = "'' AS keys";

const AGGREGATES = `count() AS rows, toString(sum(value)) AS value, uniqExactMerge(users) AS users,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms, ${NO_TRACES}`;

/**
 * A uniqExact state as hex: varint(count) followed by count × 16 key bytes, each key a
 * distinct user's 128-bit hash (migrations/0007 cuts them out the same way); the reader
 * takes the last 32 × count hex digits as the keys and checks the prefix is a varint's length.
 */
const stateHex = (state: string) => `hex(toString(${state}))`;

/** The aggregates of a series or every-value breakdown select, with the merged keys where a query asks for them (`keysAt`). */
function aggregates(p: QueryParams, s: MetricScan, queries: readonly MetricQuery[]): string {
  const qs = s.indices.map((i) => queries[i]!);
  if (!qs.some((q) => q.keysAt)) return `${AGGREGATES}, ${NO_KEYS}`;
  // The stored column by its source's name: in this select, `users` is the alias of the count.
  const state = 'uniqExactMergeState(src.users)';
  const wants = perQuery(p, s, 'keys', 'UInt8', qs.map((q) => (q.keysAt ? 1 : 0)), 'toUInt8(0)');
  const at = `arrayElement(${p.bind(`${s.name}_keys_at`, 'Array(Array(Int64))', qs.map((q) => [...(q.keysAt ?? [])]))}, indexOf(${p.bind(`${s.name}_ids`, 'Array(Int32)', [...s.indices])}, q))`;
  // One merge per group: the count is the merged state's (uniqExactMerge beside it would merge twice).
  return `count() AS rows, toString(sum(value)) AS value, finalizeAggregation(${state}) AS users,
       min(final) AS all_final, max(last_event_at_ms) AS last_event_at_ms, ${NO_TRACES},
       if(${wants} = 1 AND (is_total = 1 OR has(${at}, start_ms)), ${stateHex(state)}, '') AS keys`;
}

/** Points and totals of each query (slice ''). */
export function seriesSelect(p: QueryParams, tenantId: string, s: MetricScan, queries: readonly MetricQuery[]): string {
  return `SELECT q, '' AS slice, ${bucketOf(p, s)} AS start_ms, toUInt8(grouping(start_ms)) AS is_total, ${aggregates(p, s, queries)}
  ${scanSource(p, tenantId, s, queries)}
  GROUP BY GROUPING SETS ((q, start_ms), (q))`;
}

/** The dimension value a row is broken down by (dims are 1-based; 0 gives ''). */
const keyOf = (p: QueryParams, s: MetricScan, queries: readonly MetricQuery[]) =>
  `dims[${perQuery(p, s, 'dim', 'UInt32', s.indices.map((i) => queries[i]!.breakdown!.index + 1), 'toUInt32(0)')}]`;

/** Every value of each query's breakdown dimension (currency: amounts of two currencies are never added). */
function allSlices(p: QueryParams, tenantId: string, s: MetricScan, queries: readonly MetricQuery[]): string {
  return `SELECT q, ${keyOf(p, s, queries)} AS slice, ${bucketOf(p, s)} AS start_ms, toUInt8(grouping(start_ms)) AS is_total, ${aggregates(p, s, queries)}
  ${scanSource(p, tenantId, s, queries)}
  GROUP BY GROUPING SETS ((q, slice, start_ms), (q, slice))`;
}

/**
 * The top N values of each group by its leader's total (a distinct leader by its merged
 * count), the rest folded into `__other__`: per value first (states kept), then each
 * value's score is the leader's total, its rank within the group orders by score then
 * value, and the outer level sums and merges the folded values.
 */
function topSlices(p: QueryParams, tenantId: string, s: MetricScan, queries: readonly MetricQuery[]): string {
  const qs = s.indices.map((i) => queries[i]!);
  const other = p.bind('other', 'String', OTHER);
  const group = perQuery(p, s, 'grp', 'Int32', qs.map((q) => q.breakdown!.group), 'toInt32(-1)');
  const leader = perQuery(p, s, 'lead', 'UInt8', qs.map((q) => (q.breakdown!.leader ? 1 : 0)), 'toUInt8(0)');
  const distinct = perQuery(p, s, 'dist', 'UInt8', qs.map((q) => (q.distinct ? 1 : 0)), 'toUInt8(0)');
  const top = perQuery(p, s, 'top', 'UInt32', qs.map((q) => q.breakdown!.top!), 'toUInt32(0)');
  const perValue = `SELECT q, ${keyOf(p, s, queries)} AS key, ${bucketOf(p, s)} AS start_ms, toUInt8(grouping(start_ms)) AS is_total,
         count() AS n, sum(value) AS v, uniqExactMergeState(users) AS u, min(final) AS f, max(last_event_at_ms) AS last_ms,
         ${group} AS grp, ${leader} AS lead,
         if(${distinct} = 1, toDecimal128(finalizeAggregation(uniqExactMergeState(users)), 6), toDecimal128(sum(value), 6)) AS score
  ${scanSource(p, tenantId, s, queries)}
  GROUP BY GROUPING SETS ((q, key, start_ms), (q, key))`;
  const scored = `SELECT *, max(if(is_total = 1 AND lead = 1 AND key != '' AND key != ${other}, score, toDecimal128(-1, 6))) OVER (PARTITION BY grp, key) AS key_score
  FROM (${perValue})`;
  const ranked = `SELECT *, dense_rank() OVER (PARTITION BY grp ORDER BY key_score DESC, key) AS key_rank, ${top} AS top_n FROM (${scored})`;
  return `SELECT q, if(key_rank <= top_n AND key_score >= 0, key, ${other}) AS slice, start_ms, is_total,
         toUInt64(sum(n)) AS rows, toString(sum(v)) AS value, uniqExactMerge(u) AS users, min(f) AS all_final, max(last_ms) AS last_event_at_ms, ${NO_TRACES}, ${NO_KEYS}
  FROM (${ranked})
  GROUP BY q, slice, start_ms, is_total`;
}

/** Breakdowns of the scan's queries (all with `top`, or all without). */
export function breakdownSelect(p: QueryParams, tenantId: string, s: MetricScan, queries: readonly MetricQuery[]): string {
  const ranked = queries[s.indices[0]!]!.breakdown!.top !== null;
  return ranked ? topSlices(p, tenantId, s, queries) : allSlices(p, tenantId, s, queries);
}
