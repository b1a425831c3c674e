/**
 * How the series cache (cached-reader.ts) splits a MetricQuery into a closed part it can
 * keep and an open edge it reads, and how it adds the parts back together. Pure.
 *
 * Every table the read names answers a range exactly (minutes, hours, or whole hours with
 * minute edges): two queries split at any instant T count every event exactly once
 * between them, so for count and sum metrics, series and every-value
 * breakdowns (currency), adding the parts' cells (buckets with the same start included)
 * gives exactly the whole query's answer. A distinct metric's total (and a bucket that
 * straddles T) is a merged set, never a sum: its parts are read with `keysAt` (the merged
 * users' keys of every total and of the buckets at either end of the part) and unioned,
 * which is exact too. A ranked (top N) breakdown ranks over the whole range: it does not
 * add up from parts, so it is cached only whole, once its range is closed.
 */
import { fromMicros, toMicros } from '../../contracts/decimal.ts';
import type { MetricAggregate, MetricCell, MetricResult } from '../../storage/metric-series-reader.ts';
import type { MetricQuery } from '../../storage/metric-series-sql.ts';
import { bucketStart } from '../buckets.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Whether parts of `q` combine into its answer: series and every-value breakdowns (sums added, distinct sets unioned). */
export const splittable = (q: MetricQuery): boolean => q.breakdown === null || q.breakdown.top === null;

/**
 * Whether the table answers from hourly rows (metric_windows_hourly, or its whole hours
 * with minute edges, metric_windows_edges): anything but the minutes.
 */
const readsHours = (table: string): boolean => table !== 'metric_windows';

/** Granule of the stored rows the query reads: split points stay on it so entries change at most once per granule. */
const granuleOf = (q: MetricQuery): number => (readsHours(q.table) ? HOUR : MINUTE);

/**
 * What to do with `q` when everything before `closedBefore` is final:
 * - `split` at `at`: [from, at) is closed and kept (splittable queries), [at, to) is read;
 * - `whole`: the range is closed: kept as it is (any query);
 * - `read`: nothing of it is closed yet.
 */
export type SplitPlan = { kind: 'split'; at: number } | { kind: 'whole' } | { kind: 'read' };

export function planSplit(q: MetricQuery, closedBefore: number): SplitPlan {
  // A closed distinct query never grows: kept whole, it needs no keys.
  if (!splittable(q) || (q.distinct && q.to <= closedBefore)) return q.to <= closedBefore ? { kind: 'whole' } : { kind: 'read' };
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

/** The bucket starts a part of a distinct query needs the keys of: those holding its first and its last instant. */
export function keysAtOf(part: MetricQuery): number[] {
  return [...new Set([bucketStart(part.from, part.granularity, part.timeZone), bucketStart(part.to - 1, part.granularity, part.timeZone)])];
}

/** |a ∪ b|, walking the smaller set. */
function unionSize(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  const [big, small] = a.size >= b.size ? [a, b] : [b, a];
  let n = big.size;
  for (const k of small) if (!big.has(k)) n += 1;
  return n;
}

function addCells(a: MetricCell, b: MetricCell, keep: boolean): MetricCell {
  const allFinal = a.allFinal && b.allFinal;
  const lastEventAt = Math.max(a.lastEventAt, b.lastEventAt);
  if (a.keys === undefined && b.keys === undefined) return { value: fromMicros(toMicros(a.value) + toMicros(b.value)), allFinal, lastEventAt };
  // Distinct: two parts meet in a cell only at their boundary, which both read with keys.
  if (a.keys === undefined || b.keys === undefined) throw new Error('series cache: a distinct cell of two parts without the keys of both');
  if (!keep) return { value: String(unionSize(a.keys, b.keys)), allFinal, lastEventAt };
  const keys = new Set(a.keys);
  for (const k of b.keys) keys.add(k);
  return { value: String(keys.size), allFinal, lastEventAt, keys };
}

/**
 * The answer of a splittable query from the answers of parts that split its range (`parts`
 * are not changed). `keepKeys` false: distinct cells of two parts come without keys (an
 * answer to give out, not to keep), which spares copying the larger set.
 */
export function addResults(parts: readonly MetricResult[], keepKeys = true): MetricResult {
  const add = (a: MetricCell, b: MetricCell) => addCells(a, b, keepKeys);
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
        have.buckets.set(start, c ? add(c, cell) : cell);
      }
      have.total = have.total && agg.total ? add(have.total, agg.total) : (have.total ?? agg.total);
    }
  }
  return out;
}

/**
 * `r` keeping the keys of its totals and of the bucket at `bucket` only (what a later part,
 * starting there, may need), or of none (what callers get).
 */
export function keepKeys(r: MetricResult, bucket: number | null): MetricResult {
  const strip = (c: MetricCell): MetricCell => (c.keys === undefined ? c : { value: c.value, allFinal: c.allFinal, lastEventAt: c.lastEventAt });
  const out: MetricResult = new Map();
  for (const [slice, agg] of r) {
    const buckets = new Map<number, MetricCell>();
    for (const [start, c] of agg.buckets) buckets.set(start, start === bucket ? c : strip(c));
    out.set(slice, { buckets, total: agg.total && bucket === null ? strip(agg.total) : agg.total });
  }
  return out;
}

/** A rough size in bytes of a kept result (Map entries, strings at two bytes a character), for the cache's budget. */
export function resultBytes(r: MetricResult): number {
  let bytes = 64;
  // A kept key: 32 hex characters in a Set.
  const cell = (c: MetricCell | null) => (c ? 72 + 2 * c.value.length + (c.keys?.size ?? 0) * 120 : 0);
  for (const [slice, agg] of r as Map<string, MetricAggregate>) {
    bytes += 96 + 2 * slice.length + cell(agg.total);
    for (const c of agg.buckets.values()) bytes += 40 + cell(c);
  }
  return bytes;
}
