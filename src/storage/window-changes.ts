/**
 * What changed since a moment: the current state of every window of a tenant that was
 * written at or after `since` (the `written_at` of a snapshot). Resumed subscriptions
 * and API replicas that lost their Redis feed read this to catch up.
 *
 * The inner query finds the changed windows without FINAL (a scan of one tenant's
 * `written_at`, which is in no index); the outer one reads only those windows with
 * FINAL, so its cost follows the number of changed windows, not the tenant's history.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import { WINDOW_MS } from '../contracts/metrics.ts';
import type { WindowUpdate } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { storedWindowColumns } from './window-rows.ts';

export interface ChangedWindow extends WindowUpdate {
  /** When this revision was written (ClickHouse's clock). */
  writtenAt: number;
}

export interface ChangedSinceParams {
  tenantId: string;
  /** Epoch ms, inclusive. */
  since: number;
  /** At most this many windows; one more is read so callers can tell "more than limit". */
  limit: number;
}

const row = storedWindowColumns.extend({
  last_event_at_ms: z.coerce.number(),
  trace_sample: z.array(z.string()),
  written_at_ms: z.coerce.number(),
});

export function createWindowChangesReader(db: ClickHouse) {
  return {
    /**
     * Windows of `tenantId` changed at or after `since`, each at its newest revision,
     * ordered by window then currency; at most `limit + 1` rows. `kind` is `final` or
     * `partial` (storage does not keep whether a final revision was a correction).
     */
    async changedSince(p: ChangedSinceParams): Promise<ChangedWindow[]> {
      const rows = await db.query({
        queryId: 'windows.changed_since',
        sql: `SELECT currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, revision, final,
                     toString(revenue) AS revenue, purchases, signups, upgrades, churns, active_users,
                     last_event_at_ms, trace_sample, toUnixTimestamp64Milli(written_at) AS written_at_ms
              FROM windows FINAL
              WHERE tenant_id = {tenant:String}
                AND (currency, window_start) IN (
                  SELECT currency, window_start FROM windows
                  WHERE tenant_id = {tenant:String} AND toUnixTimestamp64Milli(written_at) >= {since:Int64})
              ORDER BY window_start, currency
              LIMIT {limit:UInt32}`,
        params: { tenant: p.tenantId, since: p.since, limit: p.limit + 1 },
        row,
      });
      return rows.map((r) => ({
        tenantId: p.tenantId,
        currency: r.currency,
        windowStart: r.window_start_ms,
        windowEnd: r.window_start_ms + WINDOW_MS,
        revision: r.revision,
        final: r.final === 1,
        kind: r.final === 1 ? 'final' : 'partial',
        revenue: canonicalDecimal(r.revenue),
        purchases: r.purchases,
        signups: r.signups,
        upgrades: r.upgrades,
        churns: r.churns,
        activeUsers: r.active_users,
        lastEventAt: r.last_event_at_ms,
        traceSample: r.trace_sample,
        writtenAt: r.written_at_ms,
      }));
    },
  };
}

export type WindowChangesReader = ReturnType<typeof createWindowChangesReader>;
