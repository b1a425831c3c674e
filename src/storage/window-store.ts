/**
 * Writes window snapshots and reads back what restores need. Snapshots go through
 * `windows_input` (a Null table) whose materialized view turns the user ids into a
 * uniqExact state, so JavaScript never builds ClickHouse binary states.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import { windowId, type StoredWindow, type WindowRef, type WindowUpdate } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { recomputeUsersHourly } from './users-hourly.ts';
import { storedWindowColumns } from './window-rows.ts';
import { rollupParams, toSeconds, touchedHourChunks, unique } from './touched-hours.ts';

const storedRow = storedWindowColumns.extend({ tenant_id: z.string() });

/**
 * Recomputes whole hours of `windows_hourly` from `windows FINAL` (migrations/0005, 0007):
 * every currency row of each (tenant, UTC hour) asked for, because each row also holds
 * the hour's distinct users over all currencies (a window over the hour's rows). The
 * filter on `window_start IN minutes` keeps the scan on the primary key; the key tuple
 * check keeps it to the hours asked for (not every tenant × hour combination of the
 * lists). `user_keys` are the 128-bit keys cut out of the merged uniqExact state (its
 * stored form: varint count, then the keys; see 0007). version: clock, then the
 * minutes' revision sum (see 0005).
 */
const ROLLUP_SQL = `INSERT INTO windows_hourly
  (tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users, users, user_keys,
   active_users_all_currencies, last_event_at_ms, trace_sample, source, minutes, version)
SELECT tenant_id, currency, hour, h_final, h_revenue, h_purchases, h_signups, h_upgrades, h_churns, finalizeAggregation(h_users), h_users,
       arrayMap(k -> reinterpretAsUInt128(unhex(k)),
                extractAll(substring(hex(toString(h_users)), 2 * (length(toString(h_users)) - 16 * finalizeAggregation(h_users)) + 1), '.{32}')),
       uniqExactMerge(h_users) OVER (PARTITION BY tenant_id, hour),
       h_last_event_at_ms, h_trace_sample, h_source, h_minutes, h_version
FROM (
  SELECT tenant_id, currency, toStartOfHour(window_start) AS hour, min(final) AS h_final, sum(revenue) AS h_revenue,
         sum(purchases) AS h_purchases, sum(signups) AS h_signups, sum(upgrades) AS h_upgrades, sum(churns) AS h_churns,
         uniqExactMergeState(users) AS h_users, max(last_event_at_ms) AS h_last_event_at_ms,
         arraySlice(anyIf(trace_sample, notEmpty(trace_sample)), 1, 5) AS h_trace_sample, any(source) AS h_source, count() AS h_minutes,
         toUInt64(toUnixTimestamp64Milli(now64(3))) * 2097152 + least(sum(revision), 2097151) AS h_version
  FROM windows FINAL
  WHERE tenant_id IN {tenants:Array(String)} AND window_start IN {minutes:Array(DateTime('UTC'))}
    AND has(arrayZip({key_tenants:Array(String)}, {key_hours:Array(DateTime('UTC'))}), (tenant_id, hour))
  GROUP BY tenant_id, currency, hour
)`;

/** One aggregator's snapshots to write: see `writeMany`. */
export interface WindowWrite {
  updates: readonly WindowUpdate[];
  usersOf: (ref: WindowRef) => string[];
  source: string;
}

export function createWindowStore(db: ClickHouse) {
  async function writeMany(writes: readonly WindowWrite[]): Promise<void> {
    const rows = writes.flatMap(({ updates, usersOf, source }) =>
      updates.map((u) => ({
        tenant_id: u.tenantId,
        currency: u.currency,
        window_start: toSeconds(u.windowStart),
        revision: u.revision,
        final: u.final ? 1 : 0,
        revenue: u.revenue,
        purchases: u.purchases,
        signups: u.signups,
        upgrades: u.upgrades,
        churns: u.churns,
        active_users: u.activeUsers,
        users: usersOf(u),
        last_event_at_ms: u.lastEventAt,
        trace_sample: u.traceSample,
        source,
      })),
    );
    if (rows.length === 0) return;
    // The same revision of a window, written again, replaces itself (ReplacingMergeTree(version), 0002).
    await db.insert({ queryId: 'windows.write', table: 'windows_input', idempotent: true, rows });
  }

  return {
    /** Writes full snapshots (one insert) tagged with the aggregator `source`. Rewriting a revision is idempotent. */
    write(updates: readonly WindowUpdate[], usersOf: (ref: WindowRef) => string[], source: string): Promise<void> {
      return writeMany([{ updates, usersOf, source }]);
    },

    /** The snapshots of several aggregators (each tagged with its `source`) in one insert. */
    writeMany,

    /**
     * Recomputes, from the stored minutes, every (tenant, UTC hour) the given windows fall
     * in, all its currencies — one INSERT … SELECT per up to 200 hours — then those hours'
     * users_hourly rows (and the later ones a late user may change; src/storage/users-hourly.ts)
     * from the new rows. Call it after writing minute snapshots. Exact and idempotent: a
     * row is always rebuilt from `windows FINAL`, never adjusted, so repeating it (a
     * retried flush, a restart) writes the same row. Hours are chunked in (tenant, hour)
     * order, so a chunk's users_hourly span (first to last hour, per tenant) stays narrow.
     */
    async rollupHours(refs: readonly WindowRef[]): Promise<void> {
      for (const chunk of touchedHourChunks(refs)) {
        await db.command({
          queryId: 'windows.rollup_hours',
          sql: ROLLUP_SQL,
          // Rebuilt from `windows FINAL`: running it again writes the same rows.
          idempotent: true,
          params: rollupParams(chunk),
        });
        await recomputeUsersHourly(db, chunk);
      }
    },

    /** Newest stored revision and values of the given windows (absent = never written). One query. */
    async loadStored(refs: readonly WindowRef[]): Promise<Map<string, Omit<StoredWindow, 'events'>>> {
      const out = new Map<string, Omit<StoredWindow, 'events'>>();
      if (refs.length === 0) return out;
      const rows = await db.query({
        queryId: 'windows.load_stored',
        sql: `SELECT tenant_id, currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, revision, final,
                     toString(revenue) AS revenue, purchases, signups, upgrades, churns, active_users
              FROM windows FINAL
              WHERE tenant_id IN {tenants:Array(String)} AND currency IN {currencies:Array(String)}
                AND window_start IN {starts:Array(DateTime('UTC'))}`,
        params: {
          tenants: unique(refs.map((r) => r.tenantId)),
          currencies: unique(refs.map((r) => r.currency)),
          starts: unique(refs.map((r) => toSeconds(r.windowStart))),
        },
        row: storedRow,
      });
      for (const r of rows) {
        out.set(windowId({ tenantId: r.tenant_id, currency: r.currency, windowStart: r.window_start_ms }), {
          revision: r.revision,
          final: r.final === 1,
          values: {
            revenue: canonicalDecimal(r.revenue),
            purchases: r.purchases,
            signups: r.signups,
            upgrades: r.upgrades,
            churns: r.churns,
            activeUsers: r.active_users,
          },
        });
      }
      return out;
    },

    /** Windows `source` wrote but not yet final: a restarted aggregator (or a partition's new owner) must take them back. */
    async openWindows(source: string): Promise<WindowRef[]> {
      const rows = await db.query({
        queryId: 'windows.open',
        sql: `SELECT tenant_id, currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms
              FROM windows FINAL WHERE final = 0 AND source = {source:String}`,
        params: { source },
        row: storedRow.pick({ tenant_id: true, currency: true, window_start_ms: true }),
      });
      return rows.map((r) => ({ tenantId: r.tenant_id, currency: r.currency, windowStart: r.window_start_ms }));
    },

    /** Newest event time per tenant, to seed freshness after a restart. */
    async lastEventAtByTenant(): Promise<Map<string, number>> {
      const rows = await db.query({
        queryId: 'windows.last_event_at',
        sql: 'SELECT tenant_id, max(last_event_at_ms) AS at FROM windows GROUP BY tenant_id',
        row: z.object({ tenant_id: z.string(), at: z.coerce.number() }),
      });
      return new Map(rows.map((r) => [r.tenant_id, r.at]));
    },
  };
}

export type WindowStore = ReturnType<typeof createWindowStore>;
