/**
 * The only module that touches @clickhouse/client. Embedded mode plugs chdb (the
 * real ClickHouse engine, in-process) into the same client through
 * `createClient({ connection })`, so SQL and code paths are identical to a server.
 *
 * Every call carries a stable, human-readable query id (a metric label and, on a
 * server, the prefix of `query_id`). Values go in only as typed parameters.
 * Results are validated with a zod schema: 64-bit integers arrive as numbers from
 * chdb and as strings from a server, so schemas use `z.coerce`.
 */
import { randomUUID } from 'node:crypto';
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { SpanKind, withSpan } from '../observability/tracing.ts';

export class ClickHouseCallError extends Error {
  constructor(
    readonly queryId: string,
    readonly isRetriable: boolean,
    cause: unknown,
  ) {
    super(`ClickHouse call ${queryId} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ClickHouseCallError';
  }
}

/** Errors that say "try again later" rather than "this statement is wrong". */
function retriable(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|Timeout|TOO_MANY|MEMORY_LIMIT/i.test(`${code} ${msg}`);
}

type Params = Record<string, unknown>;

export interface ClickHouse {
  readonly kind: 'embedded' | 'server';
  query<S extends z.ZodType>(o: { queryId: string; sql: string; params?: Params; row: S }): Promise<z.infer<S>[]>;
  /**
   * The same read, returned column by column (JSONColumnsWithMetadata: one array per
   * column, `columns` validates that object): no key names or object per row, for reads
   * that return thousands of rows.
   */
  queryColumns<S extends z.ZodType>(o: { queryId: string; sql: string; params?: Params; columns: S }): Promise<z.infer<S>>;
  /** Inserts rows as JSONEachRow objects (for small inserts; see insertColumns for hot paths). */
  insert(o: { queryId: string; table: string; rows: readonly Params[]; settings?: ClickHouseSettings }): Promise<void>;
  /**
   * Inserts whole columns (JSONColumns: one JSON object of equally long arrays, written by
   * one JSON.stringify call), the cheapest encoding in JS for big hot-path inserts: no
   * array per row, no string per row. Empty columns insert nothing.
   */
  insertColumns(o: { queryId: string; table: string; columns: Readonly<Record<string, readonly unknown[]>>; settings?: ClickHouseSettings }): Promise<void>;
  command(o: { queryId: string; sql: string; params?: Params }): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

async function connect(config: Config['storage']['clickhouse']): Promise<ClickHouseClient> {
  if (config.kind === 'server') {
    return createClient({
      url: config.url,
      username: config.user,
      password: config.password,
      database: config.database,
      request_timeout: 30_000,
      // Long query parameters (e.g. thousands of dedupe keys) go in the body, not the URL.
      use_multipart_params_auto: true,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1, date_time_input_format: 'best_effort' },
    });
  }
  const { mkdirSync } = await import('node:fs');
  mkdirSync(config.path, { recursive: true });
  // Loaded lazily: the 500 MB engine is only needed in embedded mode.
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({ connection: createChdbConnection({ path: config.path }) as never });
}

/** Opens ClickHouse (chdb in-process, or a server when CLICKHOUSE_URL is set). */
export async function createClickHouse(deps: { config: Config['storage']['clickhouse']; logger: Logger; metrics: Metrics }): Promise<ClickHouse> {
  const { config, logger, metrics } = deps;
  const client = await connect(config);

  // One client span per call, named by its stable query id (the full id, with its UUID, is an attribute).
  const call = <T>(queryId: string, kind: 'read' | 'insert' | 'command', run: (id: string) => Promise<T>): Promise<T> =>
    withSpan(queryId, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'clickhouse', 'db.operation.name': kind } }, (span) =>
      timedCall(queryId, kind, (id) => {
        span.setAttribute('db.query.id', id);
        return run(id);
      }),
    );

  async function timedCall<T>(queryId: string, kind: 'read' | 'insert' | 'command', run: (id: string) => Promise<T>): Promise<T> {
    const end = metrics.clickhouseDuration.startTimer({ query_id: queryId });
    try {
      const result = await run(`${queryId}:${randomUUID()}`);
      metrics.clickhouseQueries.inc({ query_id: queryId, kind, outcome: 'ok' });
      return result;
    } catch (err) {
      metrics.clickhouseQueries.inc({ query_id: queryId, kind, outcome: 'error' });
      logger.warn({ queryId, err: err instanceof Error ? err.message : String(err) }, 'clickhouse call failed');
      throw new ClickHouseCallError(queryId, retriable(err), err);
    } finally {
      end();
    }
  }

  return {
    kind: config.kind,
    query: ({ queryId, sql, params, row }) =>
      call(queryId, 'read', async (query_id) => {
        const rs = await client.query({ query: sql, query_params: params, format: 'JSONEachRow', query_id });
        const rows = await rs.json<unknown>();
        return rows.map((r) => row.parse(r));
      }),
    queryColumns: ({ queryId, sql, params, columns }) =>
      call(queryId, 'read', async (query_id) => {
        const rs = await client.query({ query: sql, query_params: params, format: 'JSONColumnsWithMetadata', query_id });
        // The client types this format's `data` as rows; it is one array per column name.
        const { meta = [], data } = await rs.json<unknown>();
        // No rows comes back as `data: {}`: every column is then an empty array.
        return columns.parse({ ...Object.fromEntries(meta.map((m) => [m.name, []])), ...(data as object) });
      }),
    insert: ({ queryId, table, rows, settings }) =>
      call(queryId, 'insert', async (query_id) => {
        if (rows.length === 0) return;
        await client.insert({ table, values: rows, format: 'JSONEachRow', query_id, clickhouse_settings: settings });
      }),
    insertColumns: ({ queryId, table, columns, settings }) =>
      call(queryId, 'insert', async (query_id) => {
        if ((Object.values(columns)[0]?.length ?? 0) === 0) return;
        // One statement with the data inline, as a server takes it in a POST body and chdb in a query.
        const query = `INSERT INTO ${table} (${Object.keys(columns).join(', ')}) FORMAT JSONColumns\n${JSON.stringify(columns)}`;
        await client.command({ query, query_id, clickhouse_settings: settings });
      }),
    command: ({ queryId, sql, params }) =>
      call(queryId, 'command', async (query_id) => {
        await client.command({ query: sql, query_params: params, query_id });
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
