/**
 * The only module that touches @clickhouse/client. Embedded mode plugs chdb (the
 * real ClickHouse engine, in-process) into the same client through
 * `createClient({ connection })`, so SQL and code paths are identical to a server.
 *
 * Every call carries a stable, human-readable query id (a metric label, the span name,
 * and part of each attempt's `query_id`: `tilecast-<kind>-<queryId>-<uuid>`), and runs
 * under one timeout/abort/retry policy (src/storage/clickhouse-policy.ts). Values go in
 * only as typed parameters.
 * Results are validated with a zod schema: 64-bit integers arrive as numbers from
 * chdb and as strings from a server, so schemas use `z.coerce`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { SpanKind, withSpan } from '../observability/tracing.ts';
import { DEFAULT_CALL_POLICY, runCall, safeToRetry, type CallKind, type CallPolicy } from './clickhouse-policy.ts';
import type { RowBinaryWriter } from './row-binary.ts';

export { ClickHouseCallError, isIdempotentDdl } from './clickhouse-policy.ts';

type Params = Record<string, unknown>;

/** What every call may add: its own timeout (ms, instead of the configured one) and an AbortSignal. */
export interface CallOptions {
  queryId: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Every call goes through the policy in src/storage/clickhouse-policy.ts: a timeout per
 * attempt, the caller's AbortSignal, a `query_id` `tilecast-<kind>-<queryId>-<uuid>`, and
 * retries only for reads, inserts that carry an `insert_deduplication_token` (or are
 * marked `idempotent`) and commands marked `idempotent`.
 */
export interface ClickHouse {
  readonly kind: 'embedded' | 'server';
  query<S extends z.ZodType>(o: CallOptions & { sql: string; params?: Params; row: S }): Promise<z.infer<S>[]>;
  /**
   * The same read, returned column by column (JSONColumnsWithMetadata: one array per
   * column, `columns` validates that object): no key names or object per row, for reads
   * that return thousands of rows.
   */
  queryColumns<S extends z.ZodType>(o: CallOptions & { sql: string; params?: Params; columns: S; settings?: ClickHouseSettings }): Promise<z.infer<S>>;
  /**
   * Inserts rows as JSONEachRow objects (for small inserts; see insertRowBinary for hot
   * paths). `idempotent`: inserting the same rows twice leaves the same table (rows
   * replaced by key), so a transient failure is retried.
   */
  insert(o: CallOptions & { table: string; rows: readonly Params[]; settings?: ClickHouseSettings; idempotent?: boolean }): Promise<void>;
  /**
   * Inserts a RowBinaryWithNamesAndTypes body (src/storage/row-binary.ts) into the columns
   * its header names: no text for ClickHouse to parse. A server takes the bytes as the
   * INSERT's body; embedded chdb, whose inserts take text only, reads them from a spool
   * file (`INSERT … SELECT … FROM file(…)`), which the call removes once it is done.
   */
  insertRowBinary(o: CallOptions & { table: string; body: RowBinaryWriter; settings?: ClickHouseSettings; idempotent?: boolean }): Promise<void>;
  /** `idempotent`: running the statement twice leaves what running it once leaves (then transient failures are retried). */
  command(o: CallOptions & { sql: string; params?: Params; idempotent?: boolean }): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The parts of @clickhouse/client the wrapper uses (a fake one in unit tests). */
export type ClickHouseConnection = Pick<ClickHouseClient, 'query' | 'insert' | 'command' | 'exec' | 'ping' | 'close'>;

async function connect(config: Config['storage']['clickhouse'], timeoutMs: number): Promise<ClickHouseClient> {
  if (config.kind === 'server') {
    return createClient({
      url: config.url,
      username: config.user,
      password: config.password,
      database: config.database,
      // The wrapper's own timeout (per call) decides; the client's only backs it up.
      request_timeout: timeoutMs + 5_000,
      // Long query parameters (e.g. thousands of dedupe keys) go in the body, not the URL.
      use_multipart_params_auto: true,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1, date_time_input_format: 'best_effort' },
    });
  }
  mkdirSync(config.path, { recursive: true });
  // Loaded lazily: the 500 MB engine is only needed in embedded mode.
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({ connection: createChdbConnection({ path: config.path }) as never });
}

interface Deps {
  logger: Logger;
  metrics: Metrics;
  /** Timeout, attempts and backoff (defaults: DEFAULT_CALL_POLICY, timeout from the config). */
  policy?: Partial<CallPolicy>;
}

/**
 * Where embedded chdb reads binary insert bodies from (see `insertRowBinary`): a folder of
 * the process's own data directory, emptied when it opens (a crash can leave a body behind;
 * it was never acknowledged, so nothing refers to it).
 */
function spoolDir(path: string): string {
  const dir = join(path, 'spool');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Opens ClickHouse (chdb in-process, or a server when CLICKHOUSE_URL is set). */
export async function createClickHouse(deps: Deps & { config: Config['storage']['clickhouse'] }): Promise<ClickHouse> {
  const policy = { ...DEFAULT_CALL_POLICY, ...(deps.config.timeoutMs ? { timeoutMs: deps.config.timeoutMs } : {}), ...deps.policy };
  const client = await connect(deps.config, policy.timeoutMs);
  const spool = deps.config.kind === 'embedded' ? spoolDir(deps.config.path) : undefined;
  return wrapConnection(client, { ...deps, kind: deps.config.kind, policy, spool });
}

/** The wrapper over an open connection: every call goes through runCall (clickhouse-policy.ts). */
export function wrapConnection(client: ClickHouseConnection, deps: Deps & { kind: 'embedded' | 'server'; spool?: string }): ClickHouse {
  const { logger, metrics } = deps;
  const policy: CallPolicy = { ...DEFAULT_CALL_POLICY, ...deps.policy };

  // One client span per call, named by its stable query id (the attempt's full query_id is an attribute).
  function call<T>(o: CallOptions, kind: CallKind, retry: boolean, run: (query_id: string, abort_signal: AbortSignal) => Promise<T>): Promise<T> {
    const { queryId } = o;
    return withSpan(queryId, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'clickhouse', 'db.operation.name': kind } }, async (span) => {
      const end = metrics.clickhouseDuration.startTimer({ query_id: queryId });
      try {
        const result = await runCall(
          {
            queryId,
            kind,
            retry,
            retryTimeouts: deps.kind === 'server',
            policy,
            timeoutMs: o.timeoutMs,
            signal: o.signal,
            onRetry: ({ attempt, delayMs, err }) =>
              logger.warn({ queryId, attempt, retryInMs: delayMs, err: err instanceof Error ? err.message : String(err) }, 'clickhouse call failed; retrying'),
          },
          (id, signal) => {
            span.setAttribute('db.query.id', id);
            return run(id, signal);
          },
        );
        metrics.clickhouseQueries.inc({ query_id: queryId, kind, outcome: 'ok' });
        return result;
      } catch (err) {
        metrics.clickhouseQueries.inc({ query_id: queryId, kind, outcome: 'error' });
        logger.warn({ queryId, err: err instanceof Error ? err.message : String(err) }, 'clickhouse call failed');
        throw err;
      } finally {
        end();
      }
    });
  }

  const insertRetry = (o: { settings?: ClickHouseSettings; idempotent?: boolean }) =>
    safeToRetry('insert', { idempotent: o.idempotent, dedupToken: o.settings?.insert_deduplication_token as string | undefined });

  return {
    kind: deps.kind,
    query: (o) =>
      call(o, 'read', true, async (query_id, abort_signal) => {
        const rs = await client.query({ query: o.sql, query_params: o.params, format: 'JSONEachRow', query_id, abort_signal });
        const rows = await rs.json<unknown>();
        return rows.map((r) => o.row.parse(r));
      }),
    queryColumns: (o) =>
      call(o, 'read', true, async (query_id, abort_signal) => {
        const rs = await client.query({ query: o.sql, query_params: o.params, format: 'JSONColumnsWithMetadata', query_id, abort_signal, clickhouse_settings: o.settings });
        // The client types this format's `data` as rows; it is one array per column name.
        const { meta = [], data } = await rs.json<unknown>();
        // No rows comes back as `data: {}`: every column is then an empty array.
        return o.columns.parse({ ...Object.fromEntries(meta.map((m) => [m.name, []])), ...(data as object) });
      }),
    insert: (o) =>
      call(o, 'insert', insertRetry(o), async (query_id, abort_signal) => {
        if (o.rows.length === 0) return;
        await client.insert({ table: o.table, values: o.rows, format: 'JSONEachRow', query_id, abort_signal, clickhouse_settings: o.settings });
      }),
    insertRowBinary: (o) =>
      call(o, 'insert', insertRetry(o), async (query_id, abort_signal) => {
        if (o.body.rows === 0) return;
        const names = o.body.columns.map(([name]) => name).join(', ');
        if (deps.kind === 'server') {
          const query = `INSERT INTO ${o.table} (${names}) FORMAT RowBinaryWithNamesAndTypes`;
          const { stream } = await client.exec({ query, values: Readable.from([o.body.bytes()]), query_id, abort_signal, clickhouse_settings: o.settings });
          stream.resume(); // the (empty) response, drained so the socket is reused
          await finished(stream);
          return;
        }
        if (!deps.spool) throw new Error('insertRowBinary: embedded ClickHouse needs a spool folder');
        // One file per attempt: a timed-out attempt chdb still runs keeps reading its own.
        const file = join(deps.spool, `${query_id}.rowbinary`);
        writeFileSync(file, o.body.bytes());
        try {
          const query = `INSERT INTO ${o.table} (${names}) SELECT ${names} FROM file({spool_file:String}, RowBinaryWithNamesAndTypes)`;
          await client.command({ query, query_params: { spool_file: file }, query_id, abort_signal, clickhouse_settings: o.settings });
        } finally {
          rmSync(file, { force: true });
        }
      }),
    command: (o) =>
      call(o, 'command', safeToRetry('command', { idempotent: o.idempotent }), async (query_id, abort_signal) => {
        await client.command({ query: o.sql, query_params: o.params, query_id, abort_signal });
      }),
    ping: async () => {
      try {
        const r = await client.ping();
        return r.success;
      } catch {
        return false;
      }
    },
    close: () => client.close(),
  };
}
