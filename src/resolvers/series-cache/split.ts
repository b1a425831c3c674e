/**
 * How the series cache (cached-reader.ts) splits a MetricQuery into a closed part it can
 * keep and an open edge it reads, and how it adds the parts back together. Pure.
 *
 * Every table the read names answers a range exactly (minutes, hours, or whole hours with
 * minute edges): two queries split at any instant T count every event exactly once
 * between them, so for count and sum metrics, series and every-value
 * breakdowns (currency), adding the parts' cells (buckets with the same start included)
 * gives exactly the whole query's answer. A distinct metric's total is a merged set and a
 * ranked (top N) breakdown ranks over the whole range: neither adds up from parts, so
 * such queries are cached only whole, once their range is closed.
 */
import { fromMicros, toMicros } from '../../contracts/decimal.ts';
import type { MetricAggregate, MetricCell, MetricResult } from '../../storage/metric-series-reader.ts';
import type { MetricQuery } from '../../storage/metric-series-sql.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Whether parts of `q` add up to its answer (count/sum; series or every-value breakdown). */
export const additive = (q: MetricQuery): boolean => !q.distinct && (q.breakdown === null || q.breakdown.top === null);

/**
 * Whether the table answers from hourly rows (metric_windows_hourly, or its whole hours
 * with minute edges, metric_windows_edges): anything but the minutes.
 */
const readsHours = (table: string): boolean => table !== 'metric_windows';

/** Granule of the stored rows the query reads: split points stay on it so entries change at most once per granule. */
const granuleOf = (q: MetricQuery): number => (readsHours(q.table) ? HOUR : MINUTE);

/**
 * What to do with `q` when everything before `closedBefore` is final:
 * - `split` at `at`: [from, at) is closed and kept (additive queries), [at, to) is read;
 * - `whole`: the range is closed: kept as it is (any query);
 * - `read`: nothing of it is closed yet.
 */
export type SplitPlan = { kind: 'split'; at: number } | { kind: 'whole' } | { kind: 'read' };

export function planSplit(q: MetricQuery, closedBefore: number): SplitPlan {
  if (!additive(q)) return q.to <= closedBefore ? { kind: 'whole' } : { kind: 'read' };
  const g = granuleOf(q);
  const at = q.to <= closedBefore ? q.to : Math.floor(closedBefore / g) * g;
  return at > q.from ? { kind: 'split', at } : { kind: 'read' };
}

/**
 * The stored rows a window update of [windowStart, windowEnd) may have changed, on the
 * query's table: the hourly table's row of that hour starts before the minute.
 */
export function touchedRange(table: string, windowStart: number, windowEnd: number): { from: number; to: number } {
  return readsHours(table) ? { from: Math.floor(windowStart / HOUR) * HOUR, to: windowEnd } : { from: windowStart, to: windowEnd };
}

function addCells(a: MetricCell, b: MetricCell): MetricCell {
  return { value: fromMicros(toMicros(a.value) + toMicros(b.value)), allFinal: a.allFinal && b.allFinal, lastEventAt: Math.max(a.lastEventAt, b.lastEventAt) };
}

const addOptional = (a: MetricCell | null, b: MetricCell | null): MetricCell | null => (a && b ? addCells(a, b) : (a ?? b));

/** The answer of an additive query from the answers of parts that split its range (`parts` are not changed). */
export function addResults(parts: readonly MetricResult[]): MetricResult {
  const out: MetricResult = new Map();
  for (const part of parts) {
    for (const [slice, agg] of part) {
      const have = out.get(slice);
      if (!have) {
        out.set(slice, { buckets: new Map(agg.buckets), total: agg.total });
        continue;
      }
      for (const [start, cell] of agg.buckets) {
        const c = have.buckets.get(start);
        have.buckets.set(start, c ? addCells(c, cell) : cell);
      }
      have.total = addOptional(have.total, agg.total);
    }
  }
  return out;
}

/** A rough size in bytes of a kept result (Map entries, strings at two bytes a character), for the cache's budget. */
export function resultBytes(r: MetricResult): number {
  let bytes = 64;
  const cell = (c: MetricCell | null) => (c ? 72 + 2 * c.value.length : 0);
  for (const [slice, agg] of r as Map<string, MetricAggregate>) {
    bytes += 96 + 2 * slice.length + cell(agg.total);
    for (const c of agg.buckets.values()) bytes += 40 + cell(c);
  }
  return bytes;
}
