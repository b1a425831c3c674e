/**
 * Reads the model's metrics from the narrow tables (migrations/0010) for many queries —
 * any mix of metrics, versions, filters, ranges and breakdowns — in ONE ClickHouse
 * statement: queries of the same table, granularity and time zone share one select per
 * kind (series, breakdown by every value, ranked breakdown), each scanning the table once
 * with `(metric, metric_version) IN (…)`; every row joins the queries it belongs to.
 * Trace samples (Point.traceIds) asked for come in the same statement (trace-samples.ts).
 */
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { ClickHouse } from './clickhouse.ts';
import { breakdownSelect, seriesSelect } from './metric-series-selects.ts';
import { EDGES_TABLE, METRIC_TABLES, metricColumns, type MetricQuery, type MetricScan } from './metric-series-sql.ts';
import { QueryParams } from './query-params.ts';
import { traceSelects, type TraceQuery, type TraceResult } from './trace-samples.ts';

export interface MetricCell {
  /** The metric's value: the exact sum, or the merged distinct count. */
  value: string;
  allFinal: boolean;
  lastEventAt: number;
  /** Queries with `keysAt`: the distinct users' 128-bit keys (hex) of a total or a bucket asked for. */
  keys?: ReadonlySet<string>;
}

export interface MetricAggregate {
  buckets: Map<number, MetricCell>;
  /** null when the range holds no stored row. */
  total: MetricCell | null;
}

/** Per query: one aggregate per slice ('' for a series; a breakdown's values, `__other__` included). */
export type MetricResult = Map<string, MetricAggregate>;

/** A cell's merged keys from its uniqExact state in hex (varint count, then 32 hex digits a key), checked against its merged count. */
function keysOf(state: string, count: number): ReadonlySet<string> {
  const start = state.length - 32 * count;
  // A varint of a count takes 1 to 10 bytes.
  if (start < 2 || start > 20 || start % 2 !== 0) throw new Error(`distinct keys: a state of ${state.length / 2} bytes for a merged count of ${count}`);
  const set = new Set<string>();
  for (let i = start; i < state.length; i += 32) set.add(state.slice(i, i + 32));
  if (set.size !== count) throw new Error(`distinct keys: ${set.size} keys for a merged count of ${count}`);
  return set;
}

/** Groups queries into scans: same table, granularity, time zone and kind of select. */
export function metricScans(queries: readonly MetricQuery[]): MetricScan[] {
  const scans = new Map<string, MetricScan & { indices: number[] }>();
  queries.forEach((q, i) => {
    const spec = METRIC_TABLES.get(q.table);
    if (!spec) throw new Error(`metric series reader cannot read table "${q.table}"`);
    const kind = q.breakdown === null ? 'series' : q.breakdown.top === null ? 'all' : 'top';
    const key = JSON.stringify([q.table, q.granularity, q.timeZone, kind, ...(q.table === EDGES_TABLE ? [q.from, q.to] : [])]);
    let s = scans.get(key);
    if (!s) scans.set(key, (s = { name: `m${scans.size}`, table: q.table, time: spec.time, granularity: q.granularity, timeZone: q.timeZone, indices: [] }));
    s.indices.push(i);
  });
  return [...scans.values()];
}

/** The one statement answering every query (and trace query, numbered after them) of one tenant. */
export function metricSeriesQuery(tenantId: string, queries: readonly MetricQuery[], traces: readonly TraceQuery[] = []): { sql: string; params: Record<string, unknown> } {
  const p = new QueryParams();
  const selects = metricScans(queries).map((s) => (queries[s.indices[0]!]!.breakdown === null ? seriesSelect : breakdownSelect)(p, tenantId, s, queries));
  selects.push(...traceSelects(p, tenantId, traces, queries.length));
  return { sql: selects.join('\nUNION ALL\n'), params: p.values };
}

export interface MetricRead {
  /** In the order of the queries. */
  results: MetricResult[];
  /** In the order of the trace queries. */
  traces: TraceResult[];
}

/**
 * FINAL per partition: a row's key holds its month (window_start / hour_start), so no key
 * spans two partitions, and a partition of one part (a compacted past month, migrations/0014)
 * is read without merging at all (bench/parts.ts).
 */
export const READ_SETTINGS = { do_not_merge_across_partitions_select_final: 1 } as const;

export function createMetricSeriesReader(db: ClickHouse) {
  return {
    /** One ClickHouse call for all queries and trace queries of one tenant. */
    async read(tenantId: string, queries: readonly MetricQuery[], o: { traces?: readonly TraceQuery[]; signal?: AbortSignal } = {}): Promise<MetricRead> {
      const traceQueries = o.traces ?? [];
      const results: MetricResult[] = queries.map(() => new Map());
      const traces: TraceResult[] = traceQueries.map(() => new Map());
      if (queries.length + traceQueries.length === 0) return { results, traces };
      const { sql, params } = metricSeriesQuery(tenantId, queries, traceQueries);
      const c = await db.queryColumns({ queryId: 'metric_series.read', sql, params, columns: metricColumns, signal: o.signal, settings: READ_SETTINGS });
      for (let i = 0; i < c.q.length; i++) {
        if (c.rows[i] === 0) continue;
        if (c.q[i]! >= queries.length) {
          const t = traces[c.q[i]! - queries.length]!;
          let slice = t.get(c.slice[i]!);
          if (!slice) t.set(c.slice[i]!, (slice = new Map()));
          slice.set(c.start_ms[i]!, c.traces[i]!);
          continue;
        }
        const q = queries[c.q[i]!]!;
        const result = results[c.q[i]!]!;
        let agg = result.get(c.slice[i]!);
        if (!agg) result.set(c.slice[i]!, (agg = { buckets: new Map(), total: null }));
        const cell: MetricCell = { value: q.distinct ? String(c.users[i]) : canonicalDecimal(c.value[i]!), allFinal: c.all_final[i] === 1, lastEventAt: c.last_event_at_ms[i]! };
        if (q.keysAt && (c.is_total[i] === 1 || q.keysAt.includes(c.start_ms[i]!))) cell.keys = keysOf(c.keys[i]!, c.users[i]!);
        if (c.is_total[i] === 1) agg.total = cell;
        else agg.buckets.set(c.start_ms[i]!, cell);
      }
      return { results, traces };
    },
  };
}

export type MetricSeriesReader = ReturnType<typeof createMetricSeriesReader>;
