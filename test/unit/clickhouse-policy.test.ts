/**
 * The ClickHouse call wrapper's policy (src/storage/clickhouse-policy.ts) over a fake
 * connection: timeouts fire, the caller's abort stops a call at once, only safe kinds
 * are retried, and every attempt sends its own `query_id`.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { ClickHouseCallError, isIdempotentDdl, safeToRetry } from '../../src/storage/clickhouse-policy.ts';
import { wrapConnection, type ClickHouseConnection } from '../../src/storage/clickhouse.ts';
import { RowBinaryWriter } from '../../src/storage/row-binary.ts';

interface Sent {
  method: 'query' | 'insert' | 'command' | 'exec';
  query_id: string;
  abort_signal?: AbortSignal;
}

/** A connection whose every call is answered by `answer` (called with the attempt number, 1-based). */
function fakeConnection(answer: (attempt: number, sent: Sent) => Promise<unknown>) {
  const sent: Sent[] = [];
  const handle = (method: Sent['method']) => async (params: { query_id?: string; abort_signal?: AbortSignal }) => {
    const s = { method, query_id: params.query_id ?? '', abort_signal: params.abort_signal };
    sent.push(s);
    return answer(sent.length, s);
  };
  const connection = {
    query: handle('query'),
    insert: handle('insert'),
    command: handle('command'),
    exec: handle('exec'),
    ping: async () => ({ success: true }),
    close: async () => undefined,
  } as unknown as ClickHouseConnection;
  return { connection, sent };
}

const rows = (data: unknown[]) => ({ json: async () => data });
const transient = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
const badSql = () => new Error('Code: 62. DB::Exception: Syntax error');
/** Never answers unless aborted; rejects with the abort reason like the real client. */
const hang = (s: Sent) =>
  new Promise((_, reject) => s.abort_signal?.addEventListener('abort', () => reject(new Error('The user aborted a request.')), { once: true }));

const wrap = (connection: ClickHouseConnection, policy = {}, kind: 'server' | 'embedded' = 'server') =>
  wrapConnection(connection, { kind, logger: createLogger('silent'), metrics: createMetrics(), policy: { backoffMs: [1], ...policy } });
const row = z.object({ n: z.number() });

async function failure(p: Promise<unknown>): Promise<ClickHouseCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClickHouseCallError);
  return err as ClickHouseCallError;
}

describe('ClickHouse call wrapper', () => {
  it('sends a query_id prefixed by kind and purpose, new for every attempt', async () => {
    const { connection, sent } = fakeConnection(async (n) => {
      if (n === 1) throw transient();
      return rows([{ n: 1 }]);
    });
    const db = wrap(connection);
    await expect(db.query({ queryId: 'series.read', sql: 'SELECT 1 AS n', row })).resolves.toEqual([{ n: 1 }]);
    await db.command({ queryId: 'test.cmd', sql: 'SELECT 1' });
    await db.insert({ queryId: 'test.ins', table: 't', rows: [{ n: 1 }] });
    expect(sent.map((s) => s.query_id)).toEqual([
      expect.stringMatching(/^tilecast-read-series\.read-[0-9a-f-]{36}$/),
      expect.stringMatching(/^tilecast-read-series\.read-[0-9a-f-]{36}$/),
      expect.stringMatching(/^tilecast-command-test\.cmd-[0-9a-f-]{36}$/),
      expect.stringMatching(/^tilecast-insert-test\.ins-[0-9a-f-]{36}$/),
    ]);
    expect(sent[0]!.query_id).not.toBe(sent[1]!.query_id);
    expect(sent.every((s) => s.abort_signal instanceof AbortSignal)).toBe(true);
  });

  it('times an attempt out even when the connection ignores the abort, and aborts the request', async () => {
    const { connection, sent } = fakeConnection(() => new Promise(() => undefined));
    const db = wrap(connection, { timeoutMs: 50, attempts: 1 });
    const started = Date.now();
    const err = await failure(db.query({ queryId: 'test.slow', sql: 'SELECT sleep(3)', row }));
    expect(err.reason).toBe('timeout');
    expect(err.isRetriable).toBe(true);
    expect(err.message).toMatch(/no answer within 50 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sent[0]!.abort_signal!.aborted).toBe(true);
  });

  it('retries a timed-out read and a per-call timeout overrides the configured one', async () => {
    const { connection, sent } = fakeConnection(async (n, s) => (n < 3 ? hang(s) : rows([{ n: 7 }])));
    const db = wrap(connection, { timeoutMs: 60_000, attempts: 3 });
    await expect(db.query({ queryId: 'test.read', sql: 'SELECT 7 AS n', row, timeoutMs: 30 })).resolves.toEqual([{ n: 7 }]);
    expect(sent).toHaveLength(3);
  });

  it('does not retry a timed-out attempt on chdb (it cannot cancel it; a retry would queue behind it)', async () => {
    const { connection, sent } = fakeConnection(async (n, s) => (n < 3 ? hang(s) : rows([{ n: 7 }])));
    const err = await failure(wrap(connection, { timeoutMs: 30, attempts: 3 }, 'embedded').query({ queryId: 'test.read', sql: 'SELECT 7 AS n', row }));
    expect(err.reason).toBe('timeout');
    expect(sent).toHaveLength(1);
  });

  it("stops at once on the caller's abort: the request is aborted and nothing is retried", async () => {
    const { connection, sent } = fakeConnection(async (_, s) => hang(s));
    const db = wrap(connection, { timeoutMs: 60_000, attempts: 5 });
    const controller = new AbortController();
    const pending = failure(db.query({ queryId: 'test.abort', sql: 'SELECT 1', row, signal: controller.signal }));
    await new Promise((r) => setImmediate(r));
    controller.abort(new Error('client went away'));
    const err = await pending;
    expect(err.reason).toBe('aborted');
    expect(err.isRetriable).toBe(false);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.abort_signal!.aborted).toBe(true);
  });

  it('does not send a call whose signal is already aborted, and an abort during the backoff ends it', async () => {
    const { connection, sent } = fakeConnection(async () => {
      throw transient();
    });
    const db = wrap(connection, { attempts: 3, backoffMs: [60_000] });
    await expect(failure(db.query({ queryId: 'test.pre', sql: 'SELECT 1', row, signal: AbortSignal.abort() }))).resolves.toMatchObject({ reason: 'aborted' });
    expect(sent).toHaveLength(0);
    const controller = new AbortController();
    const pending = failure(db.query({ queryId: 'test.backoff', sql: 'SELECT 1', row, signal: controller.signal }));
    while (sent.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(pending).resolves.toMatchObject({ reason: 'aborted' });
    expect(sent).toHaveLength(1);
  });

  it('retries reads up to the attempt limit, then reports how many were made', async () => {
    const { connection, sent } = fakeConnection(async () => {
      throw transient();
    });
    const err = await failure(wrap(connection, { attempts: 3 }).query({ queryId: 'test.down', sql: 'SELECT 1', row }));
    expect(sent).toHaveLength(3);
    expect(err.attempts).toBe(3);
    expect(err.isRetriable).toBe(true);
  });

  it('never retries a statement error', async () => {
    const { connection, sent } = fakeConnection(async () => {
      throw badSql();
    });
    const err = await failure(wrap(connection).query({ queryId: 'test.bad', sql: 'SELEC 1', row }));
    expect(sent).toHaveLength(1);
    expect(err.isRetriable).toBe(false);
  });

  it('retries inserts only with a dedup token or marked idempotent, commands only marked idempotent', async () => {
    const attemptsOf = async (call: (db: ReturnType<typeof wrap>) => Promise<unknown>) => {
      const { connection, sent } = fakeConnection(async () => {
        throw transient();
      });
      await failure(call(wrap(connection, { attempts: 3 })));
      return sent.length;
    };
    const body = new RowBinaryWriter([['n', 'UInt32']]);
    body.uint32(1);
    body.endRow();
    expect(await attemptsOf((db) => db.insert({ queryId: 'i.plain', table: 't', rows: [{ n: 1 }] }))).toBe(1);
    expect(await attemptsOf((db) => db.insertRowBinary({ queryId: 'i.plain_rb', table: 't', body }))).toBe(1);
    expect(await attemptsOf((db) => db.insertRowBinary({ queryId: 'i.token', table: 't', body, settings: { insert_deduplication_token: 'batch-1' } }))).toBe(3);
    expect(await attemptsOf((db) => db.insert({ queryId: 'i.idem', table: 't', rows: [{ n: 1 }], idempotent: true }))).toBe(3);
    expect(await attemptsOf((db) => db.command({ queryId: 'c.plain', sql: 'INSERT INTO t SELECT 1' }))).toBe(1);
    expect(await attemptsOf((db) => db.command({ queryId: 'c.idem', sql: 'CREATE TABLE IF NOT EXISTS t (n UInt8) ENGINE = Memory', idempotent: true }))).toBe(3);
  });

  it('counts each call once in the metrics, whatever its attempts', async () => {
    const { connection } = fakeConnection(async (n) => {
      if (n === 1) throw transient();
      return rows([]);
    });
    const metrics = createMetrics();
    const db = wrapConnection(connection, { kind: 'server', logger: createLogger('silent'), metrics, policy: { backoffMs: [1] } });
    await db.query({ queryId: 'test.metric', sql: 'SELECT 1', row });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/tilecast_clickhouse_queries_total\{query_id="test.metric",kind="read",outcome="ok"\} 1/);
    expect(text).not.toMatch(/query_id="test.metric",kind="read",outcome="error"/);
  });
});

describe('retry policy', () => {
  it.each([
    ['read', {}, true],
    ['insert', {}, false],
    ['insert', { dedupToken: '' }, false],
    ['insert', { dedupToken: 'kafka:t:0:1-9' }, true],
    ['insert', { idempotent: true }, true],
    ['command', {}, false],
    ['command', { dedupToken: 'x' }, false],
    ['command', { idempotent: true }, true],
  ] as const)('%s %j → %s', (kind, o, expected) => {
    expect(safeToRetry(kind, o)).toBe(expected);
  });

  it.each([
    ['CREATE TABLE IF NOT EXISTS t (n UInt8) ENGINE = Memory', true],
    ['-- a comment\nCREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT 1', true],
    ['DROP TABLE IF EXISTS t', true],
    ['ALTER TABLE t ADD COLUMN IF NOT EXISTS a UInt8, ADD COLUMN IF NOT EXISTS b UInt8', true],
    ["ALTER TABLE events MODIFY TTL event_time + toIntervalDay({days:UInt32})", true],
    ['ALTER TABLE t REMOVE TTL', true],
    ['ALTER TABLE t MODIFY SETTING min_age_to_force_merge_seconds = 3600', true],
    ['CREATE TABLE t (n UInt8) ENGINE = Memory', false],
    ['ALTER TABLE t ADD COLUMN a UInt8', false],
    ['ALTER TABLE t ADD COLUMN IF NOT EXISTS a UInt8, DROP COLUMN b', false],
    ['ALTER TABLE t DELETE WHERE 1', false],
    ['INSERT INTO t SELECT 1', false],
  ])('isIdempotentDdl(%j) → %s', (sql, expected) => {
    expect(isIdempotentDdl(sql)).toBe(expected);
  });
});

describe('CLICKHOUSE_TIMEOUT_MS', () => {
  it('defaults to 60 s, takes a positive integer, refuses anything else', () => {
    expect(loadConfig({}).storage.clickhouse.timeoutMs).toBe(60_000);
    expect(loadConfig({ CLICKHOUSE_TIMEOUT_MS: '5000', CLICKHOUSE_URL: 'http://127.0.0.1:8123' }).storage.clickhouse.timeoutMs).toBe(5_000);
    expect(() => loadConfig({ CLICKHOUSE_TIMEOUT_MS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ CLICKHOUSE_TIMEOUT_MS: 'soon' })).toThrow(ConfigError);
  });
});
