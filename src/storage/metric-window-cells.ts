/**
 * The model cells of base windows as stored (metric_windows FINAL), for live subscriptions:
 * a window's cells after a catch-up (`since`, a bus gap), and a minute's cells with the
 * currency slices merged for metrics whose `by` lacks currency (their value of a minute
 * spans every currency's window). One query for the windows' revisions, then one for the cells.
 *
 * A cell's value is its count or sum, or for a distinct metric the number of distinct
 * values (uniqExact states merged: exact across slices, never added).
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { BusCell } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { toSeconds, unique } from './touched-hours.ts';

export interface StoredCell extends BusCell {
  windowStart: number;
  /** The base window's currency; '' when the slices were merged. */
  slice: string;
}

/** A base window's (or, merged, a minute's) revision and finality. */
export interface StoredCellWindow {
  windowStart: number;
  slice: string;
  /** Merged: the sum of the slices' revisions (grows with every write of any of them). */
  revision: number;
  /** Merged: every slice is final. */
  final: boolean;
}

export interface CellsQuery {
  tenantId: string;
  /** Window starts, epoch ms. */
  minutes: readonly number[];
  /** Per-window cells of these slices; null: every slice, merged per minute. */
  slices: readonly string[] | null;
  /** The stored metric versions to read, and which of them are distinct (their value is the merged state's count). */
  measures: readonly { metric: string; version: number; distinct: boolean }[];
}

const cellRow = z.object({
  window_start_ms: z.coerce.number(),
  slice_key: z.string(),
  metric: z.string(),
  metric_version: z.coerce.number(),
  dims: z.array(z.string()),
  value: z.string(),
  users: z.coerce.number(),
});

const windowRow = z.object({ window_start_ms: z.coerce.number(), slice: z.string(), revision: z.coerce.number(), final: z.coerce.number() });

// `merged` picks the grouping by a typed parameter: slice kept, or '' (every slice of the minute added / merged).
const CELLS_SQL = `SELECT toUnixTimestamp(window_start) * 1000 AS window_start_ms, if({merged:UInt8} = 1, '', slice) AS slice_key,
       metric, metric_version, dims, toString(sum(value)) AS value, uniqExactMerge(users) AS users
FROM metric_windows FINAL
WHERE tenant_id = {tenant:String} AND window_start IN {minutes:Array(DateTime('UTC'))}
  AND ({merged:UInt8} = 1 OR slice IN {slices:Array(String)})
  AND has(arrayZip({metrics:Array(String)}, {versions:Array(UInt16)}), (metric, metric_version))
GROUP BY window_start, slice_key, metric, metric_version, dims
ORDER BY window_start, slice_key, metric, metric_version, dims`;

const WINDOWS_SQL = `SELECT toUnixTimestamp(window_start) * 1000 AS window_start_ms, slice, max(revision) AS revision, min(final) AS final
FROM metric_windows FINAL
WHERE tenant_id = {tenant:String} AND window_start IN {minutes:Array(DateTime('UTC'))}
  AND ({merged:UInt8} = 1 OR slice IN {slices:Array(String)})
GROUP BY window_start, slice`;

export function createMetricCellsReader(db: ClickHouse) {
  return {
    /** The cells and windows of `q`; empty when nothing is stored. */
    async load(q: CellsQuery): Promise<{ cells: StoredCell[]; windows: StoredCellWindow[] }> {
      if (q.minutes.length === 0 || q.measures.length === 0) return { cells: [], windows: [] };
      const merged = q.slices === null ? 1 : 0;
      const base = { tenant: q.tenantId, minutes: unique(q.minutes.map(toSeconds)), merged, slices: q.slices ?? [] };
      const distinct = new Set(q.measures.filter((m) => m.distinct).map((m) => `${m.metric}@${m.version}`));
      // Revisions first, then the cells: the cells are then at least as new as the revision they
      // are sent with, so a write between the two reads is sent again by the read its update
      // triggers (with a higher revision), never skipped as already seen.
      const windows = await db.query({ queryId: 'metric_windows.subscription_revisions', sql: WINDOWS_SQL, params: base, row: windowRow });
      const cells = await db.query({
        queryId: 'metric_windows.subscription_cells',
        sql: CELLS_SQL,
        params: { ...base, metrics: q.measures.map((m) => m.metric), versions: q.measures.map((m) => m.version) },
        row: cellRow,
      });
      const out: StoredCellWindow[] = [];
      if (merged) {
        const byMinute = new Map<number, StoredCellWindow>();
        for (const w of windows) {
          const m = byMinute.get(w.window_start_ms);
          if (m) {
            m.revision += w.revision;
            m.final &&= w.final === 1;
          } else byMinute.set(w.window_start_ms, { windowStart: w.window_start_ms, slice: '', revision: w.revision, final: w.final === 1 });
        }
        out.push(...byMinute.values());
      } else out.push(...windows.map((w) => ({ windowStart: w.window_start_ms, slice: w.slice, revision: w.revision, final: w.final === 1 })));
      return {
        cells: cells.map((c) => ({
          windowStart: c.window_start_ms,
          slice: c.slice_key,
          metric: c.metric,
          version: c.metric_version,
          dims: c.dims,
          value: distinct.has(`${c.metric}@${c.metric_version}`) ? String(c.users) : canonicalDecimal(c.value),
        })),
        windows: out,
      };
    },
  };
}

export type MetricCellsReader = ReturnType<typeof createMetricCellsReader>;
