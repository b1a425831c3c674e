/**
 * Retention: TTLs on the event log and the windows, from RETENTION_EVENTS_DAYS and
 * RETENTION_WINDOWS_DAYS (0 = keep forever). Migrations are static, checksummed SQL,
 * so a configurable TTL cannot live in them; it is applied after migrating, with
 * `ALTER TABLE … MODIFY TTL`, and only when it differs from what the table has (a
 * MODIFY TTL recomputes TTL information for existing parts: not something to repeat on
 * every start). `tilecast start`, `api`, `worker` and `migrate` all apply it, so the
 * last process started with a new value wins — give them the same configuration.
 *
 * Both TTLs are on event time:
 * - `events` by `window_start`: a window's logged events expire together, never half
 *   of them. Keep the log longer than any event you still accept: a late event for a
 *   window whose log has expired restores that window from nothing but itself (the
 *   aggregator rebuilds windows from the log), and `tilecast replay` cannot rebuild
 *   windows older than the log.
 * - the model's tables `metric_windows` by `window_start` and `metric_windows_hourly` by
 *   `hour_start`, and `windows` (restores, subscription catch-up, trace samples), with the
 *   same days: dashboards (and comparison periods) read nothing older. `windows_hourly`
 *   and `users_hourly` (migrations 0005–0008) are neither read nor written; the same TTL
 *   lets any rows they hold expire.
 * Storage each costs per million events: README "Retention" (bench/retention-storage.ts).
 */
import { z } from 'zod';
import type { ClickHouse } from './clickhouse.ts';

/** Tables with a configurable TTL and the event-time column it is on (a closed set: identifiers never come from input). */
const TTL_TABLES = {
  events: 'window_start',
  windows: 'window_start',
  windows_hourly: 'hour_start',
  users_hourly: 'hour_start',
  metric_windows: 'window_start',
  metric_windows_hourly: 'hour_start',
} as const;
type TtlTable = keyof typeof TTL_TABLES;

export interface RetentionDays {
  eventsDays: number;
  windowsDays: number;
}

/** The TTL in days a table currently has, 0 when none (parsed from system.tables.engine_full). */
export async function currentTtlDays(db: ClickHouse, table: TtlTable): Promise<number> {
  const [row] = await db.query({
    queryId: 'retention.current',
    sql: 'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}',
    params: { table },
    row: z.object({ engine_full: z.string() }),
  });
  // e.g. "… TTL window_start + toIntervalDay(_CAST(30, 'UInt32')) SETTINGS …" (or a plain literal on some servers)
  const m = /\bTTL\b.*?toIntervalDay\((?:_CAST\()?\s*(\d+)/.exec(row?.engine_full ?? '');
  return m ? Number(m[1]) : 0;
}

/** Sets (or removes, for 0) each table's TTL when it differs from the configured one. Returns what changed. */
export async function applyRetention(db: ClickHouse, days: RetentionDays): Promise<{ table: TtlTable; from: number; to: number }[]> {
  const wanted: Record<TtlTable, number> = {
    events: days.eventsDays,
    windows: days.windowsDays,
    windows_hourly: days.windowsDays,
    users_hourly: days.windowsDays,
    metric_windows: days.windowsDays,
    metric_windows_hourly: days.windowsDays,
  };
  const changed: { table: TtlTable; from: number; to: number }[] = [];
  for (const table of Object.keys(TTL_TABLES) as TtlTable[]) {
    const from = await currentTtlDays(db, table);
    const to = wanted[table];
    if (from === to) continue;
    if (to === 0) {
      await db.command({ queryId: `retention.remove_${table}`, sql: `ALTER TABLE ${table} REMOVE TTL`, idempotent: true });
    } else {
      await db.command({
        queryId: `retention.modify_${table}`,
        sql: `ALTER TABLE ${table} MODIFY TTL ${TTL_TABLES[table]} + toIntervalDay({days:UInt32})`,
        params: { days: to },
        idempotent: true,
      });
    }
    changed.push({ table, from, to });
  }
  return changed;
}
