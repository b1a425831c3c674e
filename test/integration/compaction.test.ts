/**
 * Compaction of settled months (migrations/0014) and the reader's FINAL per partition: the
 * tables carry the forced-merge settings, the newest revision of a cell wins whether its
 * revisions sit in one part or several, and a month merged into one part reads the same
 * numbers as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../../src/storage/clickhouse.ts';
import { createMetricSeriesReader } from '../../src/storage/metric-series-reader.ts';
import type { MetricQuery } from '../../src/storage/metric-series-sql.ts';
import { migrate } from '../../src/storage/migrations.ts';
import { waitFor } from '../helpers/wait.ts';

const MIN = 60_000;
const SEPT = Date.UTC(2026, 8, 10, 12); // a past month
const OCT = Date.UTC(2026, 9, 10, 12); // the month after
const TENANT = 'acme';

let dir: string;
let db: ClickHouse;

const cell = (at: number, value: string, revision: number, users: string[] = []) => ({
  tenant_id: TENANT,
  metric: users.length ? 'active_users' : 'revenue',
  metric_version: 1,
  window_start: at / 1000,
  dims: ['USD'],
  slice: 'USD',
  revision,
  final: 1,
  value,
  users,
  last_event_at_ms: at,
  source: 'http',
  row_version: revision * 4_294_967_296 + 1,
});

const query = (metric: string, from: number, to: number): MetricQuery => ({
  table: 'metric_windows',
  from,
  to,
  granularity: 'DAY',
  timeZone: 'UTC',
  metric,
  version: 1,
  distinct: metric === 'active_users',
  filters: [{ index: 0, in: ['USD'], notIn: null }],
  breakdown: null,
});

async function totals(): Promise<(string | undefined)[]> {
  const range = [SEPT - 86_400_000, OCT + 86_400_000] as const;
  const results = await createMetricSeriesReader(db).read(TENANT, [query('revenue', ...range), query('active_users', ...range)]);
  return results.map((r) => r.get('')?.total?.value);
}

const partsRow = z.object({ partition: z.string(), parts: z.coerce.number() });
const partsOf = (table: string) =>
  db.query({ queryId: 'test.parts', sql: `SELECT partition, count() AS parts FROM system.parts WHERE active AND database = currentDatabase() AND table = {t:String} GROUP BY partition ORDER BY partition`, params: { t: table }, row: partsRow });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilecast-compaction-'));
  db = await createClickHouse({ config: { kind: 'embedded', path: join(dir, 'ch') }, logger: createLogger('silent'), metrics: createMetrics() });
  await migrate(db);
});

afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('compaction of settled months', () => {
  it('the model tables and windows force-merge a month whose parts are all older than an hour', async () => {
    for (const table of ['metric_windows', 'metric_windows_hourly', 'windows']) {
      const [t] = await db.query({ queryId: 'test.ddl', sql: 'SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = {t:String}', params: { t: table }, row: z.object({ q: z.string() }) });
      expect(t!.q, table).toMatch(/min_age_to_force_merge_seconds = 3600/);
      expect(t!.q, table).toMatch(/min_age_to_force_merge_on_partition_only = 1/);
    }
  });

  it('reads the newest revision of every cell across parts and months, before and after the month is one part', async () => {
    // Each insert is one part: revision 1, then 2 of the same cells, in two months.
    const insert = (rows: ReturnType<typeof cell>[]) => db.insert({ queryId: 'test.cells', table: 'metric_windows_input', rows });
    await insert([cell(SEPT, '10', 1), cell(SEPT + MIN, '5', 1), cell(SEPT, '0', 1, ['u1']), cell(OCT, '7', 1)]);
    await insert([cell(SEPT, '12.5', 2), cell(SEPT, '0', 2, ['u1', 'u2'])]);
    await insert([cell(OCT, '8', 2), cell(OCT, '0', 1, ['u2', 'u3'])]);
    expect((await partsOf('metric_windows')).map((p) => p.parts).reduce((a, b) => a + b)).toBeGreaterThan(2);
    // 12.5 + 5 (Sept, newest revisions) + 8 (Oct): never 10 or 7 as well; users u1, u2, u3 merged.
    expect(await totals()).toEqual(['25.5', '3']);

    // An hour passing, for the forced merge: every month becomes one part.
    await db.command({ queryId: 'test.age', sql: 'ALTER TABLE metric_windows MODIFY SETTING min_age_to_force_merge_seconds = 1' });
    await waitFor(async () => (await partsOf('metric_windows')).every((p) => p.parts === 1), { timeoutMs: 30_000 });
    expect((await partsOf('metric_windows')).map((p) => p.partition)).toEqual(['202609', '202610']);
    expect(await totals()).toEqual(['25.5', '3']);
  });
});
