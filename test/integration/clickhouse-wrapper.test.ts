/**
 * The ClickHouse call wrapper against real chdb: a slow statement times out without
 * wedging the connection, the caller's abort ends a call, and the insert dedup token
 * that makes retrying an event-log append safe does drop a repeated block.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { ClickHouseCallError, createClickHouse, type ClickHouse } from '../../src/storage/clickhouse.ts';
import { migrate } from '../../src/storage/migrations.ts';
import { RowBinaryWriter } from '../../src/storage/row-binary.ts';
import { checkRowBinaryRoundTrip } from '../helpers/row-binary-roundtrip.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilecast-ch-wrapper-'));
let db: ClickHouse;

beforeAll(async () => {
  db = await createClickHouse({ config: { kind: 'embedded', path: dir, timeoutMs: 60_000 }, logger: createLogger('silent'), metrics: createMetrics() });
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const n = z.object({ n: z.coerce.number() });

describe('ClickHouse wrapper on chdb', () => {
  it('times out a slow read, then answers the next call', async () => {
    const started = Date.now();
    const err = await db.query({ queryId: 'test.slow', sql: 'SELECT sleep(2) AS n', row: n, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseCallError);
    expect((err as ClickHouseCallError).reason).toBe('timeout');
    expect((err as ClickHouseCallError).attempts).toBe(1); // chdb: a timed-out statement is not sent again
    expect(Date.now() - started).toBeLessThan(1_900);
    await expect(db.query({ queryId: 'test.after', sql: 'SELECT 41 + 1 AS n', row: n })).resolves.toEqual([{ n: 42 }]);
  });

  it("ends a call on the caller's abort", async () => {
    const controller = new AbortController();
    const pending = db.query({ queryId: 'test.abort', sql: 'SELECT sleep(1) AS n', row: n, signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(ClickHouseCallError);
    expect((err as ClickHouseCallError).reason).toBe('aborted');
  });

  it('inserts RowBinary bodies exactly, through a spool file it removes afterwards', async () => {
    await checkRowBinaryRoundTrip(db, 'rb_roundtrip');
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
  });

  it('drops a repeated event-log block with the same dedup token (what makes its retry safe)', async () => {
    const tenant = `wrapper-${process.pid}`;
    const body = new RowBinaryWriter([
      ['tenant_id', 'String'],
      ['currency', 'LowCardinality(String)'],
      ['window_start', "DateTime('UTC')"],
      ['event_key', 'String'],
      ['source', 'LowCardinality(String)'],
      ['seq', 'UInt64'],
    ]);
    body.string(tenant);
    body.string('USD');
    body.uint32(1_700_000_040);
    body.string('k-1');
    body.string('test');
    body.int64(1);
    body.endRow();
    for (let i = 0; i < 2; i++) {
      await db.insertRowBinary({ queryId: 'test.append', table: 'events', body, settings: { insert_deduplication_token: `test-${tenant}` } });
    }
    const [row] = await db.query({ queryId: 'test.count', sql: 'SELECT count() AS n FROM events WHERE tenant_id = {t:String}', params: { t: tenant }, row: n });
    expect(row!.n).toBe(1);
  });
});
