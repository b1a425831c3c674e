/**
 * Reads for `tilecast replay` (src/aggregate/replay.ts): which windows of one tenant
 * the event log can rebuild in a time range, and what `windows` holds for that range
 * (the newest revision per window, with its users state finalized to a count, so a
 * replay can be compared with the live path bucket by bucket).
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { WindowRef } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { storedWindowColumns } from './window-rows.ts';

export interface LoggedWindow extends WindowRef {
  /** The aggregator source that logged its events (a tenant maps to one source). */
  source: string;
  events: number;
}

export interface StoredWindowRow extends WindowRef {
  revision: number;
  final: boolean;
  revenue: string;
  purchases: number;
  signups: number;
  upgrades: number;
  churns: number;
  activeUsers: number;
  /** Distinct users of the stored uniqExact state (must equal activeUsers). */
  usersInState: number;
  lastEventAt: number;
  traceSample: string[];
  source: string;
}

const toSeconds = (ms: number) => Math.floor(ms / 1000);

export function createReplayReader(db: ClickHouse) {
  return {
    /** Windows with logged events for `tenantId` whose start is in [fromMs, toMs), oldest first. */
    async loggedWindows(tenantId: string, fromMs: number, toMs: number): Promise<LoggedWindow[]> {
      const rows = await db.query({
        queryId: 'replay.logged_windows',
        sql: `SELECT currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, any(source) AS source, uniqExact(event_key) AS events
              FROM events
              WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
              GROUP BY currency, window_start
              ORDER BY window_start, currency`,
        params: { tenant: tenantId, from: toSeconds(fromMs), to: toSeconds(toMs) },
        row: z.object({ currency: z.string(), window_start_ms: z.coerce.number(), source: z.string(), events: z.coerce.number() }),
      });
      return rows.map((r) => ({ tenantId, currency: r.currency, windowStart: r.window_start_ms, source: r.source, events: r.events }));
    },

    /** The newest stored revision of every window of `tenantId` starting in [fromMs, toMs), oldest first. */
    async storedWindows(tenantId: string, fromMs: number, toMs: number): Promise<StoredWindowRow[]> {
      const rows = await db.query({
        queryId: 'replay.stored_windows',
        sql: `SELECT currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, revision, final, toString(revenue) AS revenue,
                     purchases, signups, upgrades, churns, active_users, finalizeAggregation(users) AS users_in_state,
                     last_event_at_ms, trace_sample, source
              FROM windows FINAL
              WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
              ORDER BY window_start, currency`,
        params: { tenant: tenantId, from: toSeconds(fromMs), to: toSeconds(toMs) },
        row: storedWindowColumns.extend({
          users_in_state: z.coerce.number(),
          last_event_at_ms: z.coerce.number(),
          trace_sample: z.array(z.string()),
          source: z.string(),
        }),
      });
      return rows.map((r) => ({
        tenantId,
        currency: r.currency,
        windowStart: r.window_start_ms,
        revision: r.revision,
        final: r.final === 1,
        revenue: canonicalDecimal(r.revenue),
        purchases: r.purchases,
        signups: r.signups,
        upgrades: r.upgrades,
        churns: r.churns,
        activeUsers: r.active_users,
        usersInState: r.users_in_state,
        lastEventAt: r.last_event_at_ms,
        traceSample: r.trace_sample,
        source: r.source,
      }));
    },
  };
}

export type ReplayReader = ReturnType<typeof createReplayReader>;
