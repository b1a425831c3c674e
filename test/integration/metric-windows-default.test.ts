/**
 * On the default model, metric_windows holds what `windows` holds: for a seeded random
 * stream posted over HTTP (duplicates, late events, several currencies), every minute's
 * revenue, purchases, signups, upgrades, churns and active_users cells equal the `windows`
 * row's columns, and the model's hourly rollup equals the minutes of `windows` summed per
 * hour (distinct users merged).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalDecimal } from '../../src/contracts/decimal.ts';
import { requireModel } from '../../src/model/compile.ts';
import { generateDataset } from '../helpers/dataset.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';

const LATENESS = 5_000;
const T0 = Date.UTC(2026, 10, 21, 8, 10);
const TENANTS = ['mw-a', 'mw-b'];
let now = T0;
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'metric-windows-default', env: { ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000' } });
});
afterAll(() => t?.app.stop());

const cell = z.object({ tenant: z.string(), currency: z.string(), at: z.coerce.number(), metric: z.string(), value: z.string() });

/** (tenant, currency, start) → column → value, from `windows`: its minutes, or per UTC hour (sums, distinct users merged). */
async function fromWindows(hourly: boolean, columns: readonly string[], distinct: readonly string[]) {
  const at = hourly ? 'hour_start' : 'window_start';
  const table = hourly
    ? `(SELECT tenant_id, currency, toStartOfHour(window_start) AS hour_start, ${columns.map((c) => (distinct.includes(c) ? 'uniqExactMerge(users)' : `sum(${c})`) + ` AS ${c}`).join(', ')}
        FROM windows FINAL GROUP BY tenant_id, currency, hour_start)`
    : 'windows FINAL';
  const rows = await t.app.db.query({
    queryId: 'test.windows_columns',
    // Identifiers from the model's metric names, which equal the default model's columns.
    sql: `SELECT tenant_id AS tenant, currency, toUnixTimestamp(${at}) * 1000 AS at, metric, value FROM (
            SELECT tenant_id, currency, ${at}, [${columns.map((c) => `'${c}'`).join(', ')}] AS names,
                   [${columns.map((c) => `toString(${c})`).join(', ')}] AS values
            FROM ${table} WHERE tenant_id IN {tenants:Array(String)}
          ) ARRAY JOIN names AS metric, values AS value`,
    params: { tenants: TENANTS },
    row: cell,
  });
  return rows.filter((r) => r.value !== '0').map((r) => `${r.tenant} ${r.currency} ${r.at} ${r.metric} ${canonicalDecimal(r.value)}`).sort();
}

async function fromMetricWindows(hourly: boolean, distinct: readonly string[]) {
  const rows = await t.app.db.query({
    queryId: 'test.metric_windows_cells',
    sql: `SELECT tenant_id AS tenant, dims[1] AS currency, toUnixTimestamp(${hourly ? 'hour_start' : 'window_start'}) * 1000 AS at, metric,
                 if(has({distinct:Array(String)}, metric), toString(finalizeAggregation(users)), toString(value)) AS value
          FROM ${hourly ? 'metric_windows_hourly' : 'metric_windows'} FINAL WHERE tenant_id IN {tenants:Array(String)}`,
    params: { tenants: TENANTS, distinct },
    row: cell,
  });
  return rows.filter((r) => r.value !== '0').map((r) => `${r.tenant} ${r.currency} ${r.at} ${r.metric} ${canonicalDecimal(r.value)}`).sort();
}

describe('metric_windows on the default model', () => {
  it('equal the windows table, minute by minute and hour by hour', async () => {
    const seed = testSeed();
    await withSeed(seed, async () => {
      const plan = await requireModel('models/default.yaml');
      const measures = plan.measures.map((m) => m.name);
      const distinct = plan.measures.filter((m) => m.kind === 'distinct').map((m) => m.name);
      const columns = measures.map((m) => m);
      const { items } = generateDataset({ seed, tenants: TENANTS, currencies: ['USD', 'EUR', 'JPY'], count: 1500, start: T0, spanMs: 2 * 3_600_000, allowedLatenessMs: LATENESS, usersPerTenant: 40, lateRate: 0.03, invalidRate: 0 });
      const tokens = new Map(await Promise.all(TENANTS.map(async (x) => [x, await t.token(x, 'ingest')] as const)));
      for (let i = 0; i < items.length; i += 60) {
        const batch = items.slice(i, i + 60);
        now = batch[batch.length - 1]!.arrival;
        for (const tenant of TENANTS) {
          const mine = batch.filter((b) => b.postAs === tenant).map((b) => b.body);
          if (mine.length) expect((await t.post(tokens.get(tenant)!, JSON.stringify(mine))).status).toBe(202);
        }
        await t.app.aggregator.flush();
      }
      now += 3 * 3_600_000;
      await t.app.aggregator.flush();
      const minutes = await fromWindows(false, columns, distinct);
      expect(minutes.length).toBeGreaterThan(500);
      expect(await fromMetricWindows(false, distinct)).toEqual(minutes);
      const hours = await fromWindows(true, columns, distinct);
      expect(hours.length).toBeGreaterThan(20);
      expect(await fromMetricWindows(true, distinct)).toEqual(hours);
    });
  }, 240_000);
});
