/**
 * scripts/chdb-server.ts with real processes: a server process owns the chdb data
 * directory; this test process talks to it through Tilecast's own server-mode storage
 * (`createClickHouse({ kind: 'server' })`, i.e. @clickhouse/client over HTTP), and a
 * second client process reads what this one wrote — CLICKHOUSE_URL with no real
 * ClickHouse on the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { ClickHouseCallError, createClickHouse, type ClickHouse } from '../../src/storage/clickhouse.ts';
import { migrate } from '../../src/storage/migrations.ts';
import { checkRowBinaryRoundTrip } from '../helpers/row-binary-roundtrip.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TENANT = `chdb-server-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'tilecast-chdb-server-'));
const dataDir = join(dir, 'data');

interface Server { proc: ChildProcess; url: string; stderr: () => string }

/** Starts the server on an ephemeral port; ready = it printed its URL and GET /ping answers "Ok.". */
async function startServer(): Promise<Server> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/chdb-server.ts', '--path', dataDir, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`chdb-server exited ${proc.exitCode}: ${err}`);
    return /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1];
  }, { timeoutMs: 60_000, what: 'chdb-server URL' });
  await waitFor(async () => (await (await fetch(`${url}/ping`)).text()) === 'Ok.\n', { timeoutMs: 30_000, what: 'GET /ping' });
  return { proc, url, stderr: () => err };
}

/** SIGTERM, then wait (with a deadline) for the process to close chdb and exit. */
async function stopServer(s: Server): Promise<number | null> {
  if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
  await waitFor(() => s.proc.exitCode !== null || s.proc.signalCode !== null, { timeoutMs: 30_000, what: 'chdb-server exit' });
  return s.proc.exitCode;
}

const open = (url: string, database?: string) =>
  createClickHouse({ config: { kind: 'server', url, database }, logger: createLogger('silent'), metrics: createMetrics() });

/** Runs a tiny node script in another process: it opens the same server and prints JSON. */
async function inChildProcess(url: string, tenant: string): Promise<unknown> {
  const script = `
    import { z } from 'zod';
    import { createClickHouse } from './src/storage/clickhouse.ts';
    import { createLogger } from './src/observability/logger.ts';
    import { createMetrics } from './src/observability/metrics.ts';
    const [url, tenant] = process.argv.slice(1);
    const db = await createClickHouse({ config: { kind: 'server', url }, logger: createLogger('silent'), metrics: createMetrics() });
    const rows = await db.query({
      queryId: 'test.child_read',
      sql: 'SELECT revision, toString(revenue) AS revenue, uniqExactMerge(users) AS users FROM windows FINAL WHERE tenant_id = {tenant:String} GROUP BY revision, revenue',
      params: { tenant },
      row: z.object({ revision: z.coerce.number(), revenue: z.string(), users: z.string() }),
    });
    await db.insert({ queryId: 'test.child_write', table: 'chdb_server_notes', rows: [{ tenant_id: tenant, pid: process.pid }] });
    await db.close();
    process.stdout.write(JSON.stringify({ rows, pid: process.pid }));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, url, tenant], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
  return JSON.parse(out);
}

/** Raw HTTP to the server, for what the storage wrapper does not expose (headers, settings, gzip). */
async function raw(url: string, sql: string | Uint8Array<ArrayBuffer>, params: Record<string, string> = {}, init: RequestInit = {}) {
  const res = await fetch(`${url}/?${new URLSearchParams(params)}`, { method: 'POST', body: sql, ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

let server: Server;
let db: ClickHouse;

beforeAll(async () => {
  server = await startServer();
  db = await open(server.url);
  await migrate(db);
  await db.command({ queryId: 'test.notes', sql: 'CREATE TABLE IF NOT EXISTS chdb_server_notes (tenant_id String, pid UInt32) ENGINE = MergeTree ORDER BY tenant_id' });
});

afterAll(async () => {
  await db?.close();
  if (server) await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
});

describe('chdb-server through Tilecast server-mode storage', () => {
  it('ran every migration; a second run is a no-op', async () => {
    const again = await migrate(db);
    expect(again.applied).toEqual([]);
    expect(again.skipped.length).toBeGreaterThan(0);
  });

  it('binds typed params exactly: quotes, backslashes, tabs, Array(String), DateTime, Nullable, Decimal(38,6)', async () => {
    const tricky = "it's a \\ back\tslash";
    const rows = await db.query({
      queryId: 'test.params',
      sql: `SELECT {s:String} AS s, {list:Array(String)} AS list, toUnixTimestamp({t:DateTime('UTC')}) AS t,
                   {n:Nullable(String)} IS NULL AS n_null, toString({d:Decimal(38, 6)} + {d:Decimal(38, 6)}) AS d2,
                   length({ids:Array(String)}) AS ids`,
      params: {
        s: tricky,
        list: ['plain', tricky, "'", '\\'],
        t: new Date(Date.UTC(2026, 10, 1, 5, 30)),
        n: null,
        d: '12345678901234567890.123456',
        // Beyond max_query_size (256 KiB) as SQL text: still fine as a bound parameter.
        ids: Array.from({ length: 20_000 }, (_, i) => `id-${i}-${'x'.repeat(20)}`),
      },
      row: z.object({ s: z.string(), list: z.array(z.string()), t: z.coerce.number(), n_null: z.coerce.number(), d2: z.string(), ids: z.coerce.number() }),
    });
    expect(rows).toEqual([
      { s: tricky, list: ['plain', tricky, "'", '\\'], t: Date.UTC(2026, 10, 1, 5, 30) / 1000, n_null: 1, d2: '24691357802469135780.246912', ids: 20_000 },
    ]);
  });

  it('writes windows_input snapshots and reads windows FINAL with uniqExactMerge', async () => {
    const base = { tenant_id: TENANT, currency: 'USD', window_start: Date.UTC(2026, 10, 1, 12, 0) / 1000, final: 0, signups: 0, upgrades: 0, churns: 0, last_event_at_ms: Date.UTC(2026, 10, 1, 12, 0, 30), trace_sample: [] };
    await db.insert({ queryId: 'test.windows_r1', table: 'windows_input', rows: [{ ...base, revision: 1, revenue: '10.000001', purchases: 1, active_users: 1, users: ['u1'] }] });
    await db.insert({ queryId: 'test.windows_r2', table: 'windows_input', rows: [{ ...base, revision: 2, final: 1, revenue: '99999999999999999999.999999', purchases: 3, active_users: 2, users: ['u1', 'u2', 'u1'] }] });
    const rows = await db.query({
      queryId: 'test.windows_final',
      sql: `SELECT revision, final, toString(revenue) AS revenue, purchases, uniqExactMerge(users) AS users
            FROM windows FINAL WHERE tenant_id = {tenant:String} GROUP BY revision, final, revenue, purchases`,
      params: { tenant: TENANT },
      row: z.object({ revision: z.coerce.number(), final: z.coerce.number(), revenue: z.string(), purchases: z.string(), users: z.string() }),
    });
    // 64-bit counts arrive as strings (server mode quotes them); Decimal(38,6) keeps every digit.
    expect(rows).toEqual([{ revision: 2, final: 1, revenue: '99999999999999999999.999999', purchases: '3', users: '2' }]);
  });

  it('takes RowBinaryWithNamesAndTypes bodies through its spool, exactly, and refuses RowBinary without types', async () => {
    await checkRowBinaryRoundTrip(db, 'rb_roundtrip');
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([]);
    const refused = await raw(server.url, Uint8Array.from([1, 2, 3]), { query: 'INSERT INTO chdb_server_notes FORMAT RowBinary' });
    expect(refused.status).toBe(500);
    expect(refused.text).toMatch(/RowBinaryWithNamesAndTypes or Native only/);
    const truncated = await raw(server.url, Uint8Array.from([2, 9]), { query: 'INSERT INTO chdb_server_notes (tenant_id, pid) FORMAT RowBinaryWithNamesAndTypes' });
    expect(truncated.status).toBe(500);
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([]);
  });

  it('returns 64-bit integers as exact strings', async () => {
    const rows = await db.query({
      queryId: 'test.int64',
      sql: "SELECT toUInt64('18446744073709551615') AS max_u, toInt64('-9007199254740993') AS below_safe",
      row: z.object({ max_u: z.string(), below_safe: z.string() }),
    });
    expect(rows).toEqual([{ max_u: '18446744073709551615', below_safe: '-9007199254740993' }]);
  });

  it('surfaces bad SQL as ClickHouseCallError with the ClickHouse code and type', async () => {
    const err = await db.query({ queryId: 'test.bad_sql', sql: 'SELEC 1', row: z.object({}) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseCallError);
    expect((err as ClickHouseCallError).isRetriable).toBe(false);
    expect((err as Error).cause).toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });
    const http = await raw(server.url, 'SELECT * FROM no_such_table');
    expect(http.status).toBe(500);
    expect(http.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(http.text).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)/);
  });

  it('scopes settings to their request: a dedup token does not swallow the next plain inserts', async () => {
    await db.command({
      queryId: 'test.dedup_table',
      sql: 'CREATE TABLE dedup_probe (k String) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100',
    });
    const token = { insert_deduplication_token: 'p0:10-19' };
    await db.insert({ queryId: 'test.dedup_1', table: 'dedup_probe', rows: [{ k: 'a' }], settings: token });
    await db.insert({ queryId: 'test.dedup_2', table: 'dedup_probe', rows: [{ k: 'b' }] });
    await db.insert({ queryId: 'test.dedup_3', table: 'dedup_probe', rows: [{ k: 'c' }] });
    // The token itself works: a retry of the first batch with the same token is dropped.
    await db.insert({ queryId: 'test.dedup_retry', table: 'dedup_probe', rows: [{ k: 'a-retry' }], settings: token });
    const rows = await db.query({ queryId: 'test.dedup_read', sql: 'SELECT k FROM dedup_probe ORDER BY k', row: z.object({ k: z.string() }) });
    expect(rows.map((r) => r.k)).toEqual(['a', 'b', 'c']);
  });

  it('keeps settings and databases per request under concurrency', async () => {
    await db.command({ queryId: 'test.db2', sql: 'CREATE DATABASE IF NOT EXISTS tilecast_second' });
    const db2 = await open(server.url, 'tilecast_second');
    await db2.command({ queryId: 'test.db2_table', sql: 'CREATE TABLE marker (db String) ENGINE = Memory' });
    await db2.insert({ queryId: 'test.db2_insert', table: 'marker', rows: [{ db: 'second' }] });
    const marker = z.object({ db: z.string() });
    const calls = Array.from({ length: 24 }, async (_, i) => {
      if (i % 3 === 0) return ['second', (await db2.query({ queryId: 'test.db2_read', sql: 'SELECT db FROM marker', row: marker }))[0]?.db];
      if (i % 3 === 1) return ['default', (await db.query({ queryId: 'test.db1_read', sql: 'SELECT currentDatabase() AS db', row: marker }))[0]?.db];
      // Half of these set max_threads, half expect the engine's untouched value.
      const want = i % 2 === 0 ? String(i) : undefined;
      const res = await raw(server.url, "SELECT changed, value FROM system.settings WHERE name = 'max_threads'", want ? { max_threads: want } : {});
      const [changed, value] = res.text.trim().split('\t');
      return [want ?? 'unchanged', changed === '1' ? value : 'unchanged'];
    });
    for (const [want, got] of await Promise.all(calls)) expect(got).toBe(want);
    // A request without the setting sees the default again, not the last value set.
    const after = await raw(server.url, "SELECT changed FROM system.settings WHERE name = 'max_threads'");
    expect(after.text).toBe('0\n');
    // Nor do SET and USE sent as SQL (a server forgets them after the request; chdb would not).
    expect((await raw(server.url, 'SET max_threads = 1')).status).toBe(200);
    expect((await raw(server.url, 'USE tilecast_second')).status).toBe(200);
    expect((await raw(server.url, "SELECT currentDatabase(), changed FROM system.settings WHERE name = 'max_threads'")).text).toBe('default\t0\n');
    await db2.close();
  });

  it('speaks the HTTP details: query id header, ping, gzip both ways', async () => {
    const res = await raw(server.url, 'SELECT 1', { query_id: 'test.http:1' });
    expect(res.headers.get('x-clickhouse-query-id')).toBe('test.http:1');
    expect(JSON.parse(res.headers.get('x-clickhouse-summary') ?? '{}')).toHaveProperty('elapsed_ns');
    expect(await db.ping()).toBe(true);
    const zipped = await raw(server.url, '', { enable_http_compression: '1', query: "SELECT 'gzip' AS w FORMAT JSONEachRow" }, { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(zipped.text).toBe('{"w":"gzip"}\n');
    const gzBody = await raw(server.url, new Uint8Array(gzipSync("SELECT 'in' AS w FORMAT JSONEachRow")), {}, { headers: { 'content-encoding': 'gzip' } });
    expect(gzBody.text).toBe('{"w":"in"}\n');
  });

  it('shares data with a second client process, both ways', async () => {
    const child = (await inChildProcess(server.url, TENANT)) as { rows: unknown[]; pid: number };
    expect(child.rows).toEqual([{ revision: 2, revenue: '99999999999999999999.999999', users: '2' }]);
    const notes = await db.query({ queryId: 'test.notes_read', sql: 'SELECT pid FROM chdb_server_notes WHERE tenant_id = {t:String}', params: { t: TENANT }, row: z.object({ pid: z.coerce.number() }) });
    expect(notes).toEqual([{ pid: child.pid }]);
  });

  it('closes chdb cleanly on SIGTERM and reopens the same directory with the data intact', async () => {
    await db.close();
    expect(await stopServer(server)).toBe(0);
    server = await startServer();
    db = await open(server.url);
    const rows = await db.query({ queryId: 'test.reopen', sql: 'SELECT count() AS n FROM dedup_probe', row: z.object({ n: z.coerce.number() }) });
    expect(rows).toEqual([{ n: 3 }]);
    expect(server.stderr()).not.toMatch(/request failed/);
  });
});
