/**
 * The event log in ClickHouse (table `events`): append-only, one row per idempotency
 * key. Appending before answering 202 (HTTP) or before moving past a Kafka offset is
 * what makes an accepted event survive a crash; aggregators restore windows from it,
 * and a Kafka worker resumes a partition from the highest `seq` its source logged.
 *
 * A row keeps every declared field of the event's metric model (`fields`, as text; see
 * src/model/event-fields.ts), so any metric can be rebuilt from the log, and Event v1's
 * `currency` and `amount` columns (the sort key's currency, restores by window).
 *
 * Every row carries its `source` ('http' or 'kafka:<topic>:<partition>'), `seq`
 * (HTTP batch number, or Kafka offset + 1) and `pos` (its place in the append): together
 * the order events arrived in. Every append passes an explicit
 * `insert_deduplication_token`: the table deduplicates insert blocks, and on chdb a
 * setting given once sticks to the connection, so a call without one would inherit
 * the previous call's token and be silently dropped.
 */
import { z } from 'zod';
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { WindowEvent } from '../contracts/event.ts';
import { WINDOW_MS } from '../contracts/metrics.ts';
import { windowId, type WindowRef } from '../contracts/window.ts';
import { fieldCodec, fieldsOfColumns, type EventFieldCodec } from '../model/event-fields.ts';
import type { FieldValue, ModelPlan } from '../model/types.ts';
import type { ClickHouse } from './clickhouse.ts';
import { RowBinaryWriter } from './row-binary.ts';

const eventRow = z.object({
  tenant_id: z.string(),
  currency: z.string(),
  event_key: z.string(),
  event_type: z.string(),
  user_id: z.string(),
  amount: z.string().nullable(),
  trace_id: z.string(),
  event_time_ms: z.coerce.number(),
  fields: z.record(z.string(), z.string()),
});

/** A whole event with its place in the log (source's seq, then its place in the append). */
const pagedRow = eventRow.extend({ seq: z.coerce.number(), pos: z.coerce.number() });

/** The columns every read of whole events selects (`eventRow`). */
const EVENT_COLUMNS = 'tenant_id, currency, event_key, event_type, user_id, toString(amount) AS amount, trace_id, event_time_ms, fields';

const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];
/** Keys travel space-separated (see `arrivals`); they are UUID-shaped by contract. */
function checkedKey(key: string): string {
  if (/\s/.test(key)) throw new RangeError(`unexpected idempotency key: ${key}`);
  return key;
}
/** DateTime's last second (2106-02-07). */
const MAX_DATETIME_MS = 4_294_967_295_000;
const toSeconds = (ms: number) => Math.floor(ms / 1000);

/**
 * A logged row as the event the pipeline accepted: its declared fields typed back by the
 * model (src/model/event-fields.ts). A row logged before the log kept them (empty map) has
 * Event v1's fields, from its columns; so has a row of an event without declared fields.
 */
const toWindowEvent = (r: z.infer<typeof eventRow>, codec: EventFieldCodec): WindowEvent => {
  const amount = r.amount === null ? undefined : canonicalDecimal(r.amount);
  const mapped = Object.keys(r.fields).length > 0;
  return {
    key: r.event_key,
    eventType: r.event_type,
    userId: r.user_id,
    tenantId: r.tenant_id,
    currency: r.currency,
    amount,
    traceId: r.trace_id,
    timestamp: r.event_time_ms,
    fields: mapped ? codec.fromText(r.fields) : fieldsOfColumns(r.currency, r.amount),
  };
};

export interface ArrivalQuery {
  tenants: readonly string[];
  keys?: readonly string[];
  from: number;
  to?: number;
  exclude?: { source: string; afterSeq: number; writer: string };
}

export interface AppendOptions {
  source: string;
  seq: number | readonly number[];
  token: string;
  writer?: string;
}

/**
 * Logged arrivals of these tenants (and keys, when given) in windows starting from
 * `from` to `to` (epoch ms; `to` open when absent): the dedupe step's lookup
 * (src/ingest/pipeline/key-index.ts). Served by the primary key (tenant_id, …,
 * window_start) and the key's bloom filter: the work follows the time range asked,
 * not the size of the log.
 *
 * `exclude` (Kafka partitions): rows logged into `source` after `afterSeq` by a writer
 * other than `writer` are left out. The caller resumed at `afterSeq` and rebuilt its
 * windows from what was logged then, so such rows (a timed-out append of its previous
 * incarnation, or a zombie's, that landed late) are not in its windows: the event is
 * new to it (logging it again is harmless; restores read each key once per window).
 */
async function arrivals(db: ClickHouse, codec: EventFieldCodec, q: ArrivalQuery): Promise<WindowEvent[]> {
  if (q.tenants.length === 0) return [];
  const keyFilter = q.keys ? `AND event_key IN (SELECT arrayJoin(splitByChar(' ', {keys:String})))` : '';
  const toFilter = q.to === undefined ? '' : `AND window_start <= {to:DateTime('UTC')}`;
  const rows = await db.query({
    queryId: q.keys ? 'event_log.arrivals_of_keys' : 'event_log.arrivals_since',
    sql: `SELECT ${EVENT_COLUMNS}
          FROM events
          WHERE tenant_id IN {tenants:Array(String)}
            AND window_start >= {from:DateTime('UTC')} ${toFilter} ${keyFilter}
            AND NOT (source = {source:String} AND seq > {after:UInt64} AND writer != {writer:String})`,
    params: {
      tenants: unique(q.tenants),
      from: toSeconds(Math.max(0, q.from)),
      ...(q.to === undefined ? {} : { to: toSeconds(Math.min(q.to, MAX_DATETIME_MS)) }),
      // The keys travel as one plain string parameter ("key key …"): much cheaper to send and
      // parse than an Array(String) of thousands of literals, and free of escapes (UUID-shaped).
      ...(q.keys ? { keys: unique(q.keys.map(checkedKey)).join(' ') } : {}),
      // No exclusion: no row has source ''.
      source: q.exclude?.source ?? '',
      after: q.exclude?.afterSeq ?? 0,
      writer: q.exclude?.writer ?? '',
    },
    row: eventRow,
  });
  return rows.map((r) => toWindowEvent(r, codec));
}

/** The columns an append writes, with their exact types in `events` (the RowBinary header). */
const APPEND_COLUMNS = [
  ['tenant_id', 'String'],
  ['currency', 'LowCardinality(String)'],
  ['window_start', "DateTime('UTC')"],
  ['event_key', 'String'],
  ['event_type', 'LowCardinality(String)'],
  ['user_id', 'String'],
  ['amount', 'Nullable(Decimal(38, 6))'],
  ['trace_id', 'String'],
  ['event_time_ms', 'Int64'],
  ['fields', 'Map(String, String)'],
  ['source', 'LowCardinality(String)'],
  ['seq', 'UInt64'],
  ['pos', 'UInt32'],
  ['writer', 'LowCardinality(String)'],
] as const;
const NO_FIELDS: Readonly<Record<string, FieldValue>> = {};

/**
 * Appends accepted events in one insert (= one part, atomic). `seq` is one number
 * for the whole batch (HTTP) or one per event (Kafka offset + 1). `token` names the
 * batch (e.g. `kafka:<topic>:<p>:<first>-<last>`): a retried insert with the same
 * token is dropped by ClickHouse instead of logging the batch twice.
 *
 * Rows go as RowBinary (src/storage/row-binary.ts), written straight from the events:
 * this runs once per event on the ingest path, and binary rows cost ClickHouse less to
 * read than any text format.
 */
async function append(db: ClickHouse, codec: EventFieldCodec, events: readonly WindowEvent[], o: AppendOptions): Promise<void> {
  const body = new RowBinaryWriter(APPEND_COLUMNS, 256 * events.length + 1024);
  const writer = o.writer ?? '';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    body.string(e.tenantId);
    body.string(e.currency);
    body.uint32(toSeconds(Math.floor(e.timestamp / WINDOW_MS) * WINDOW_MS));
    body.string(e.key);
    body.string(e.eventType);
    body.string(e.userId);
    body.nullableDecimal128(e.amount, 6);
    body.string(e.traceId);
    body.int64(e.timestamp);
    body.stringMap(e.fields ?? NO_FIELDS, codec.textOf);
    body.string(o.source);
    body.int64(typeof o.seq === 'number' ? o.seq : o.seq[i]!);
    body.uint32(i);
    body.string(writer);
    body.endRow();
  }
  await db.insertRowBinary({ queryId: 'event_log.append', table: 'events', settings: { insert_deduplication_token: o.token }, body });
}

/**
 * Every logged event of the given windows, grouped by window id. One query.
 * A key logged twice in a window (two writers racing past the dedupe lookup, e.g. a
 * zombie worker and the partition's new owner) comes back once.
 */
async function loadWindows(db: ClickHouse, codec: EventFieldCodec, refs: readonly WindowRef[]): Promise<Map<string, WindowEvent[]>> {
  const out = new Map<string, WindowEvent[]>(refs.map((r) => [windowId(r), []]));
  if (refs.length === 0) return out;
  const rows = await db.query({
    queryId: 'event_log.load_windows',
    sql: `SELECT ${EVENT_COLUMNS}
          FROM events
          WHERE tenant_id IN {tenants:Array(String)} AND currency IN {currencies:Array(String)}
            AND window_start IN {starts:Array(DateTime('UTC'))}
          LIMIT 1 BY tenant_id, currency, window_start, event_key`,
    params: {
      tenants: unique(refs.map((r) => r.tenantId)),
      currencies: unique(refs.map((r) => r.currency)),
      starts: unique(refs.map((r) => toSeconds(r.windowStart))),
    },
    row: eventRow,
  });
  for (const r of rows) {
    const e = toWindowEvent(r, codec);
    out.get(windowId({ tenantId: e.tenantId, currency: e.currency, windowStart: Math.floor(e.timestamp / WINDOW_MS) * WINDOW_MS }))?.push(e);
  }
  return out;
}

/**
 * Every logged event of all windows starting in [fromMs, toMs), each key once per window
 * (the same dedupe as `loadWindows`): what a backfill chunk computes from. One query.
 */
async function loadRange(db: ClickHouse, codec: EventFieldCodec, fromMs: number, toMs: number): Promise<WindowEvent[]> {
  const rows = await db.query({
    queryId: 'event_log.load_range',
    sql: `SELECT ${EVENT_COLUMNS}
          FROM events
          WHERE window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
          LIMIT 1 BY tenant_id, currency, window_start, event_key`,
    params: { from: toSeconds(Math.max(0, fromMs)), to: toSeconds(Math.min(toMs, MAX_DATETIME_MS)) },
    row: eventRow,
  });
  return rows.map((r) => toWindowEvent(r, codec));
}

/**
 * The event log of `plan`'s events: every declared field is logged (as text) and read back
 * typed by the plan's field types.
 */
export function createEventLog(db: ClickHouse, plan: Pick<ModelPlan, 'eventTypes'>) {
  const codec = fieldCodec(plan);
  return {
    /** Logged arrivals of tenants (and keys) in a range of windows: see `arrivals`. */
    arrivals: (q: ArrivalQuery): Promise<WindowEvent[]> => arrivals(db, codec, q),
    /** Appends accepted events in one insert: see `append`. */
    append: (events: readonly WindowEvent[], o: AppendOptions): Promise<void> => append(db, codec, events, o),
    /** Every logged event of the given windows, by window id: see `loadWindows`. */
    loadWindows: (refs: readonly WindowRef[]): Promise<Map<string, WindowEvent[]>> => loadWindows(db, codec, refs),
    /** Every logged event of the windows starting in a time range, each key once: see `loadRange`. */
    loadRange: (fromMs: number, toMs: number): Promise<WindowEvent[]> => loadRange(db, codec, fromMs, toMs),

    /**
     * Every event `source` logged after `seq`, in the order they arrived (seq, then place in
     * the append), `pageSize` at a time (memory stays bounded however far behind the checkpoint
     * is): what crash recovery replays. Rows another writer logged into the source count too.
     */
    async *loggedSince(source: string, seq: number, pageSize = 20_000): AsyncGenerator<WindowEvent[]> {
      let after = { seq, pos: 2 ** 32, key: '' }; // past every row of `seq` itself
      for (;;) {
        const rows = await db.query({
          queryId: 'event_log.logged_since',
          sql: `SELECT ${EVENT_COLUMNS}, seq, pos FROM events
                WHERE source = {source:String} AND seq >= {seq:UInt64}
                  AND (seq, toInt64(pos), event_key) > ({seq:UInt64}, {pos:Int64}, {key:String})
                ORDER BY seq, pos, event_key LIMIT {limit:UInt32}`,
          params: { source, seq: after.seq, pos: after.pos, key: after.key, limit: pageSize },
          row: pagedRow,
        });
        if (rows.length > 0) yield rows.map((r) => toWindowEvent(r, codec));
        if (rows.length < pageSize) return;
        const last = rows[rows.length - 1]!;
        after = { seq: last.seq, pos: last.pos, key: last.event_key };
      }
    },

    /** Highest sequence number `source` logged, 0 when it logged nothing. */
    async maxSeq(source: string): Promise<number> {
      const [row] = await db.query({
        queryId: 'event_log.max_seq',
        sql: 'SELECT max(seq) AS seq FROM events WHERE source = {source:String}',
        params: { source },
        row: z.object({ seq: z.coerce.number() }),
      });
      return row?.seq ?? 0;
    },

    /** Distinct currencies each of these tenants has logged (cardinality budget). One query. */
    async currenciesOfTenants(tenantIds: readonly string[]): Promise<Map<string, string[]>> {
      const out = new Map<string, string[]>(tenantIds.map((t) => [t, []]));
      if (tenantIds.length === 0) return out;
      const rows = await db.query({
        queryId: 'event_log.currencies_of_tenants',
        // '' = no currency (a model without one): not a value of the budget.
        sql: "SELECT DISTINCT tenant_id, currency FROM events WHERE tenant_id IN {tenants:Array(String)} AND currency != ''",
        params: { tenants: unique(tenantIds) },
        row: z.object({ tenant_id: z.string(), currency: z.string() }),
      });
      for (const r of rows) out.get(r.tenant_id)?.push(r.currency);
      return out;
    },
  };
}

export type EventLog = ReturnType<typeof createEventLog>;
