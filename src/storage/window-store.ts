/**
 * Writes window snapshots and reads back what restores need. Snapshots go through
 * `windows_input` (a Null table) whose materialized view turns the user ids into a
 * uniqExact state, so JavaScript never builds ClickHouse binary states.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import { windowId, type StoredWindow, type WindowRef, type WindowUpdate } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { storedWindowColumns } from './window-rows.ts';
import { toSeconds, unique } from './touched-hours.ts';

const storedRow = storedWindowColumns.extend({ tenant_id: z.string() });

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
