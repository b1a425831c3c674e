/**
 * The event log in ClickHouse (table `events`): append-only, one row per idempotency
 * key. Appending before answering 202 is what makes an accepted event survive a
 * crash; the aggregator restores windows from it.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import { EVENT_TYPES, type WindowEvent } from '../contracts/event.ts';
import { WINDOW_MS } from '../contracts/metrics.ts';
import { windowId, type WindowRef } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';

const keyRow = z.object({ tenant_id: z.string(), event_key: z.string() });
const refRow = z.object({ tenant_id: z.string(), currency: z.string(), window_start_ms: z.coerce.number() });
const eventRow = z.object({
  tenant_id: z.string(),
  currency: z.string(),
  event_key: z.string(),
  event_type: z.enum(EVENT_TYPES),
  user_id: z.string(),
  amount: z.string().nullable(),
  trace_id: z.string(),
  event_time_ms: z.coerce.number(),
});

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];
const toSeconds = (ms: number) => Math.floor(ms / 1000);

export function createEventLog(db: ClickHouse) {
  return {
    /** Which of these (tenant, key) pairs are already logged. One query. */
    async existingKeys(events: readonly Pick<WindowEvent, 'tenantId' | 'key'>[]): Promise<Set<string>> {
      if (events.length === 0) return new Set();
      const rows = await db.query({
        queryId: 'event_log.existing_keys',
        sql: `SELECT tenant_id, event_key FROM events
              WHERE tenant_id IN {tenants:Array(String)} AND event_key IN {keys:Array(String)}`,
        params: { tenants: unique(events.map((e) => e.tenantId)), keys: unique(events.map((e) => e.key)) },
        row: keyRow,
      });
      return new Set(rows.map((r) => `${r.tenant_id}\u0000${r.event_key}`));
    },

    /** Appends accepted events under one sequence number (one insert). */
    async append(events: readonly WindowEvent[], seq: number): Promise<void> {
      await db.insert({
        queryId: 'event_log.append',
        table: 'events',
        rows: events.map((e) => ({
          tenant_id: e.tenantId,
          currency: e.currency,
          window_start: toSeconds(Math.floor(e.timestamp / WINDOW_MS) * WINDOW_MS),
          event_key: e.key,
          event_type: e.eventType,
          user_id: e.userId,
          amount: e.amount ?? null,
          trace_id: e.traceId,
          event_time_ms: e.timestamp,
          seq,
        })),
      });
    },

    /** Every logged event of the given windows, grouped by window id. One query. */
    async loadWindows(refs: readonly WindowRef[]): Promise<Map<string, WindowEvent[]>> {
      const out = new Map<string, WindowEvent[]>(refs.map((r) => [windowId(r), []]));
      if (refs.length === 0) return out;
      const rows = await db.query({
        queryId: 'event_log.load_windows',
        sql: `SELECT tenant_id, currency, event_key, event_type, user_id, toString(amount) AS amount, trace_id, event_time_ms
              FROM events
              WHERE tenant_id IN {tenants:Array(String)} AND currency IN {currencies:Array(String)}
                AND window_start IN {starts:Array(DateTime('UTC'))}`,
        params: {
          tenants: unique(refs.map((r) => r.tenantId)),
          currencies: unique(refs.map((r) => r.currency)),
          starts: unique(refs.map((r) => toSeconds(r.windowStart))),
        },
        row: eventRow,
      });
      for (const r of rows) {
        const e: WindowEvent = {
          key: r.event_key,
          eventType: r.event_type,
          userId: r.user_id,
          tenantId: r.tenant_id,
          currency: r.currency,
          amount: r.amount === null ? undefined : canonicalDecimal(r.amount),
          traceId: r.trace_id,
          timestamp: r.event_time_ms,
        };
        out.get(windowId({ tenantId: e.tenantId, currency: e.currency, windowStart: Math.floor(e.timestamp / WINDOW_MS) * WINDOW_MS }))?.push(e);
      }
      return out;
    },

    /** Windows touched by events logged after `seq` (crash recovery). */
    async windowsSince(seq: number): Promise<WindowRef[]> {
      const rows = await db.query({
        queryId: 'event_log.windows_since',
        sql: `SELECT DISTINCT tenant_id, currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms
              FROM events WHERE seq > {seq:UInt64}`,
        params: { seq },
        row: refRow,
      });
      return rows.map((r) => ({ tenantId: r.tenant_id, currency: r.currency, windowStart: r.window_start_ms }));
    },

    /** Highest sequence number logged, 0 for an empty log. */
    async maxSeq(): Promise<number> {
      const [row] = await db.query({ queryId: 'event_log.max_seq', sql: 'SELECT max(seq) AS seq FROM events', row: z.object({ seq: z.coerce.number() }) });
      return row?.seq ?? 0;
    },

    /** Distinct currencies a tenant has logged (cardinality budget). */
    async currenciesOf(tenantId: string): Promise<string[]> {
      const rows = await db.query({
        queryId: 'event_log.currencies_of',
        sql: 'SELECT DISTINCT currency FROM events WHERE tenant_id = {tenant:String}',
        params: { tenant: tenantId },
        row: z.object({ currency: z.string() }),
      });
      return rows.map((r) => r.currency);
    },
  };
}

export type EventLog = ReturnType<typeof createEventLog>;
