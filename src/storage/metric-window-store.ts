/**
 * Writes the model's cells of base windows to metric_windows (through the Null table
 * metric_windows_input, whose view turns distinct values into a uniqExact state) and
 * recomputes the touched hours of metric_windows_hourly. The shape is the contract of
 * migrations/0010_metric_windows.sql; the readers are src/storage/series-*.
 *
 * Every snapshot of a base window writes all of its cells with the window's revision and
 * row_version = revision × 2^32 + the events it counted: rewriting a revision is
 * idempotent, and of two writers of the same revision the more complete one wins.
 */
import { z } from 'zod';
import { windowId, type CellSnapshot, type WindowRef, type WindowUpdate } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { loadKeptValues, saveKeptValues, type KeptValueRow } from './dimension-values.ts';
import { rollupParams, toSeconds, touchedHourChunks, unique } from './touched-hours.ts';

/** One base window's snapshot: its update (revision, final, …) and its cells. */
export interface CellsWrite {
  update: Pick<WindowUpdate, 'tenantId' | 'currency' | 'windowStart' | 'revision' | 'final' | 'lastEventAt'>;
  cells: readonly CellSnapshot[];
  /** Events the window counted (row_version's low 32 bits). */
  events: number;
}

const REVISION_UNIT = 4_294_967_296; // 2^32

/**
 * Whole (tenant, UTC hour)s of metric_windows_hourly, every metric, from `metric_windows
 * FINAL`: slices merged (values added, distinct states merged). row_version: clock, then
 * the minutes' revision sum (migrations/0010).
 */
const ROLLUP_SQL = `INSERT INTO metric_windows_hourly
  (tenant_id, metric, metric_version, hour_start, dims, final, value, users, last_event_at_ms, minutes, row_version)
SELECT tenant_id, metric, metric_version, toStartOfHour(window_start) AS hour, dims, min(final), sum(value),
       uniqExactMergeState(users), max(last_event_at_ms), count(),
       toUInt64(toUnixTimestamp64Milli(now64(3))) * 2097152 + least(sum(revision), 2097151)
FROM metric_windows FINAL
WHERE tenant_id IN {tenants:Array(String)} AND window_start IN {minutes:Array(DateTime('UTC'))}
  AND has(arrayZip({key_tenants:Array(String)}, {key_hours:Array(DateTime('UTC'))}), (tenant_id, hour))
GROUP BY tenant_id, metric, metric_version, hour, dims`;

const writtenRow = z.object({
  tenant_id: z.string(),
  slice: z.string(),
  window_start_ms: z.coerce.number(),
  revision: z.coerce.number(),
  events: z.coerce.number(),
});

/** One aggregator's cells to write: see `writeMany`. */
export interface CellsWriteBatch {
  snapshots: readonly CellsWrite[];
  source: string;
}

export function createMetricWindowStore(db: ClickHouse) {
  async function writeMany(batches: readonly CellsWriteBatch[]): Promise<void> {
    const rows = batches.flatMap(({ snapshots, source }) =>
      snapshots.flatMap(({ update: u, cells, events }) => {
        const common = {
          tenant_id: u.tenantId,
          window_start: toSeconds(u.windowStart),
          slice: u.currency,
          revision: u.revision,
          final: u.final ? 1 : 0,
          last_event_at_ms: u.lastEventAt,
          source,
          // Exact as a double while revision < 2^21 (as windows.version, migrations/0002).
          row_version: u.revision * REVISION_UNIT + events,
        };
        return cells.map((c) => ({ ...common, metric: c.metric, metric_version: c.version, dims: c.dims, value: c.value, users: c.users }));
      }),
    );
    if (rows.length === 0) return;
    // The same revision written again replaces itself (ReplacingMergeTree(row_version)).
    await db.insert({ queryId: 'metric_windows.write', table: 'metric_windows_input', idempotent: true, rows });
  }

  return {
    /** Writes every cell of each snapshot (one insert) tagged with the aggregator `source`. */
    write: (snapshots: readonly CellsWrite[], source: string): Promise<void> => writeMany([{ snapshots, source }]),

    /** The snapshots of several aggregators (each tagged with its `source`) in one insert. */
    writeMany,

    /**
     * Recomputes every (tenant, UTC hour) the windows fall in, all metrics, from the stored
     * minutes: one INSERT … SELECT per up to 200 hours. Idempotent (always rebuilt, never adjusted).
     */
    async rollupHours(refs: readonly WindowRef[]): Promise<void> {
      for (const chunk of touchedHourChunks(refs)) {
        await db.command({
          queryId: 'metric_windows.rollup_hours',
          sql: ROLLUP_SQL,
          idempotent: true,
          params: rollupParams(chunk),
        });
      }
    },

    /** The newest written revision of each window's cells and the events it counted (absent = none written). One query. */
    async loadWritten(refs: readonly WindowRef[]): Promise<Map<string, { revision: number; events: number }>> {
      const out = new Map<string, { revision: number; events: number }>();
      if (refs.length === 0) return out;
      const rows = await db.query({
        queryId: 'metric_windows.load_written',
        sql: `SELECT tenant_id, slice, toUnixTimestamp(window_start) * 1000 AS window_start_ms,
                     intDiv(max(row_version), 4294967296) AS revision, max(row_version) % 4294967296 AS events
              FROM metric_windows
              WHERE tenant_id IN {tenants:Array(String)} AND slice IN {slices:Array(String)}
                AND window_start IN {starts:Array(DateTime('UTC'))}
              GROUP BY tenant_id, slice, window_start`,
        params: {
          tenants: unique(refs.map((r) => r.tenantId)),
          slices: unique(refs.map((r) => r.currency)),
          starts: unique(refs.map((r) => toSeconds(r.windowStart))),
        },
        row: writtenRow,
      });
      for (const r of rows) out.set(windowId({ tenantId: r.tenant_id, currency: r.slice, windowStart: r.window_start_ms }), { revision: r.revision, events: r.events });
      return out;
    },

    /** Saves newly kept dimension values (before any cell that uses them is written). */
    saveKept: (rows: readonly KeptValueRow[], source: string): Promise<void> => saveKeptValues(db, rows, source),
    /** Every saved kept dimension value. */
    loadKept: (): Promise<KeptValueRow[]> => loadKeptValues(db),
  };
}

export type MetricWindowStore = ReturnType<typeof createMetricWindowStore>;
