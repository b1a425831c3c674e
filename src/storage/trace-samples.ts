/**
 * Trace samples for Point.traceIds, read in the same statement as the model's series
 * (metric-series-reader.ts): the narrow tables keep no trace ids, the engine's one-minute
 * windows (`windows`, migrations/0002) keep up to five per (tenant, currency, minute).
 * A bucket's sample is one of its windows' samples (cheap: no set of every trace id).
 * Queries of the same granularity and time zone share one select scanning `windows` once;
 * every value is a bound parameter.
 */
import type { Granularity } from '../contracts/metrics.ts';
import { bucketOf, perQuery, type MetricScan } from './metric-series-sql.ts';
import type { QueryParams } from './query-params.ts';

/** Trace ids a bucket's sample holds at most (as the engine keeps per window). */
export const TRACE_SAMPLE_LIMIT = 5;

/** The samples of one range: windows of the listed currencies (null = every currency), per currency or all together. */
export interface TraceQuery {
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  currencies: readonly string[] | null;
  /** One sample per currency and bucket (a breakdown by currency) rather than per bucket. */
  byCurrency: boolean;
}

/** Per trace query: slice ('' or, by currency, the currency) → bucket start (ms) → trace ids. */
export type TraceResult = Map<string, Map<number, string[]>>;

export const traceQueryKey = (q: TraceQuery): string => JSON.stringify([q.from, q.to, q.granularity, q.timeZone, q.currencies, q.byCurrency]);

/** Groups trace queries by granularity and time zone; `offset` numbers them after the read's metric queries. */
function traceScans(queries: readonly TraceQuery[], offset: number): MetricScan[] {
  const scans = new Map<string, MetricScan & { indices: number[] }>();
  queries.forEach((q, i) => {
    const key = JSON.stringify([q.granularity, q.timeZone]);
    let s = scans.get(key);
    if (!s) scans.set(key, (s = { name: `t${scans.size}`, table: 'windows', time: 'window_start', granularity: q.granularity, timeZone: q.timeZone, indices: [] }));
    s.indices.push(offset + i);
  });
  return [...scans.values()];
}

function belongs(p: QueryParams, q: TraceQuery, id: number): string {
  const conds = [
    `window_start >= fromUnixTimestamp64Milli(${p.bind(`q${id}_from`, 'Int64', q.from)}, 'UTC')`,
    `window_start < fromUnixTimestamp64Milli(${p.bind(`q${id}_to`, 'Int64', q.to)}, 'UTC')`,
  ];
  if (q.currencies) conds.push(`has(${p.bind(`q${id}_cur`, 'Array(String)', q.currencies)}, currency)`);
  return `if(${conds.join(' AND ')}, ${p.bind(`q${id}`, 'Int32', id)}, -1)`;
}

/**
 * One select per scan, its columns those of the metric selects (`metricColumns`): the
 * sample in `traces`, `rows` > 0, every metric column a constant the reader ignores.
 */
export function traceSelects(p: QueryParams, tenantId: string, queries: readonly TraceQuery[], offset: number): string[] {
  return traceScans(queries, offset).map((s) => {
    const qs = s.indices.map((id) => queries[id - offset]!);
    const from = p.bind(`${s.name}_from`, 'Int64', Math.min(...qs.map((q) => q.from)));
    const to = p.bind(`${s.name}_to`, 'Int64', Math.max(...qs.map((q) => q.to)));
    const byCurrency = perQuery(p, s, 'bycur', 'UInt8', qs.map((q) => (q.byCurrency ? 1 : 0)), 'toUInt8(0)');
    return `SELECT q, slice, start_ms, toUInt8(0) AS is_total, count() AS rows, '0' AS value, toUInt64(0) AS users, toUInt8(1) AS all_final, toInt64(0) AS last_event_at_ms,
         arraySlice(anyIf(trace_sample, notEmpty(trace_sample)), 1, ${p.bind('trace_limit', 'UInt32', TRACE_SAMPLE_LIMIT)}) AS traces, '' AS keys
  FROM (
    SELECT q, if(${byCurrency} = 1, currency, '') AS slice, ${bucketOf(p, s)} AS start_ms, trace_sample
    FROM windows FINAL
    ARRAY JOIN arrayFilter(x -> x >= 0, [${s.indices.map((id) => belongs(p, queries[id - offset]!, id)).join(', ')}]) AS q
    WHERE tenant_id = ${p.bind('tenant', 'String', tenantId)}
      AND window_start >= fromUnixTimestamp64Milli(${from}, 'UTC') AND window_start < fromUnixTimestamp64Milli(${to}, 'UTC')
  )
  GROUP BY q, slice, start_ms`;
  });
}
