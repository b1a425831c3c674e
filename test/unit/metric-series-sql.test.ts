/**
 * The model's series read SQL (src/storage/metric-series-*.ts): which queries a stored row
 * joins, what each kind of select groups by, how queries are grouped into scans of one
 * statement, and that every value travels as a bound parameter, never in the SQL text.
 * (Results against ClickHouse: test/integration/model-series.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { metricScans, metricSeriesQuery } from '../../src/storage/metric-series-reader.ts';
import { breakdownSelect, seriesSelect } from '../../src/storage/metric-series-selects.ts';
import type { MetricQuery } from '../../src/storage/metric-series-sql.ts';
import { QueryParams } from '../../src/storage/query-params.ts';
import type { TraceQuery } from '../../src/storage/trace-samples.ts';

const TENANT = 'tenant-zq9x';
const HOUR = 3_600_000;
const FROM = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const query = (o: Partial<MetricQuery> = {}): MetricQuery => ({
  table: 'metric_windows',
  from: FROM,
  to: FROM + HOUR,
  granularity: 'HOUR',
  timeZone: 'Asia/Kolkata',
  metric: 'gross_revenue_qz',
  version: 3,
  distinct: false,
  filters: [],
  breakdown: null,
  ...o,
});

const squash = (sql: string) => sql.replace(/\s+/g, ' ').trim();
const placeholders = (sql: string) => [...sql.matchAll(/\{([a-z0-9_]+):([^}]+)\}/g)].map((m) => m[1]!);

function expectOnlyBoundValues(sql: string, params: Record<string, unknown>, values: readonly (string | number)[]) {
  expect(new Set(placeholders(sql))).toEqual(new Set(Object.keys(params)));
  for (const v of values) expect(sql).not.toContain(String(v));
}

describe('series select', () => {
  it('joins each row to the queries it belongs to: metric, version, range and filters, all bound', () => {
    const p = new QueryParams();
    const queries = [query(), query({ metric: 'paying_qz', version: 1, distinct: true, filters: [{ index: 1, in: ['pro_qz'], notIn: ['free_qz'] }] })];
    const [scan] = metricScans(queries);
    const sql = squash(seriesSelect(p, TENANT, scan!, queries));
    expect(sql).toContain(
      'ARRAY JOIN arrayFilter(x -> x >= 0, [if(metric = {q0_m:String} AND metric_version = {q0_v:UInt16} AND window_start >= fromUnixTimestamp64Milli({q0_from:Int64}, \'UTC\') AND window_start < fromUnixTimestamp64Milli({q0_to:Int64}, \'UTC\'), {q0:Int32}, -1), ',
    );
    expect(sql).toContain('AND has({q1_f0_in:Array(String)}, dims[{q1_f0:UInt32}]) AND NOT has({q1_f0_out:Array(String)}, dims[{q1_f0:UInt32}]), {q1:Int32}, -1)]) AS q');
    expect(sql).toContain('(metric, metric_version) IN (({m0_m0:String}, {m0_v0:UInt16}), ({m0_m1:String}, {m0_v1:UInt16}))');
    expect(sql).toContain('toStartOfHour(window_start, {m0_tz:String})');
    expect(sql).toContain('toString(sum(value)) AS value, uniqExactMerge(users) AS users');
    expect(sql).toMatch(/FROM metric_windows AS src FINAL .* GROUP BY GROUPING SETS \(\(q, start_ms\), \(q\)\)$/);
    expect(p.values).toMatchObject({ q1_f0: 2, q1_f0_in: ['pro_qz'], q1_f0_out: ['free_qz'], m0_tz: 'Asia/Kolkata', tenant: TENANT });
    expectOnlyBoundValues(sql, p.values, [TENANT, 'gross_revenue_qz', 'paying_qz', 'pro_qz', 'free_qz', 'Asia/Kolkata', FROM]);
  });

  it('minutes need no time zone; the hourly rollup is read by hour_start', () => {
    const minute = squash(seriesSelect(new QueryParams(), TENANT, metricScans([query({ granularity: 'MINUTE' })])[0]!, [query({ granularity: 'MINUTE' })]));
    expect(minute).toContain('toInt64(toUnixTimestamp(window_start)) * 1000 AS start_ms');
    expect(minute).not.toContain('_tz');
    const hourly = [query({ table: 'metric_windows_hourly', granularity: 'WEEK', timeZone: 'UTC' })];
    const sql = squash(seriesSelect(new QueryParams(), TENANT, metricScans(hourly)[0]!, hourly));
    expect(sql).toContain('toDateTime(toStartOfWeek(hour_start, 1, {m0_tz:String}), {m0_tz:String})');
    expect(sql).toContain('FROM metric_windows_hourly AS src FINAL');
  });
});

describe('breakdown selects', () => {
  it('by every value (currency): grouped by the dimension at each query’s position', () => {
    const p = new QueryParams();
    const queries = [query({ breakdown: { index: 0, top: null, group: 0, leader: true } })];
    const sql = squash(breakdownSelect(p, TENANT, metricScans(queries)[0]!, queries));
    expect(sql).toContain('dims[transform(q, {m0_ids:Array(Int32)}, {m0_dim:Array(UInt32)}, toUInt32(0))] AS slice');
    expect(sql).toMatch(/GROUP BY GROUPING SETS \(\(q, slice, start_ms\), \(q, slice\)\)$/);
    expect(p.values).toMatchObject({ m0_ids: [0], m0_dim: [1] });
    expect(sql).not.toContain('dense_rank');
  });

  it('top N: ranked by the group leader’s total, the rest folded into __other__ with states merged', () => {
    const p = new QueryParams();
    const queries = [
      query({ breakdown: { index: 1, top: 4, group: 7, leader: true } }),
      query({ metric: 'refunds_qz', breakdown: { index: 1, top: 4, group: 7, leader: false } }),
      query({ metric: 'paying_qz', distinct: true, breakdown: { index: 2, top: 2, group: 8, leader: true } }),
    ];
    const sql = squash(breakdownSelect(p, TENANT, metricScans(queries)[0]!, queries));
    expect(sql).toContain('uniqExactMergeState(users) AS u');
    expect(sql).toContain('OVER (PARTITION BY grp, key) AS key_score');
    expect(sql).toContain('dense_rank() OVER (PARTITION BY grp ORDER BY key_score DESC, key) AS key_rank');
    expect(sql).toContain('if(key_rank <= top_n AND key_score >= 0, key, {other:String}) AS slice');
    expect(sql).toContain('toString(sum(v)) AS value, uniqExactMerge(u) AS users');
    expect(p.values).toMatchObject({ m0_grp: [7, 7, 8], m0_lead: [1, 0, 1], m0_dist: [0, 0, 1], m0_top: [4, 4, 2], m0_dim: [2, 2, 3], other: '__other__' });
    expectOnlyBoundValues(sql, p.values, ['__other__', 'refunds_qz', 'paying_qz']);
  });
});

describe('one statement', () => {
  it('one select per table, granularity, time zone and kind; one UNION ALL for all of them', () => {
    const queries = [
      query(),
      query({ version: 4 }),
      query({ table: 'metric_windows_hourly', timeZone: 'UTC' }),
      query({ breakdown: { index: 0, top: null, group: 0, leader: true } }),
      query({ breakdown: { index: 1, top: 10, group: 1, leader: true } }),
    ];
    expect(metricScans(queries).map((s) => s.indices)).toEqual([[0, 1], [2], [3], [4]]);
    const { sql, params } = metricSeriesQuery(TENANT, queries);
    expect(sql.split('UNION ALL')).toHaveLength(4);
    expectOnlyBoundValues(sql, params, [TENANT, 'gross_revenue_qz', 'Asia/Kolkata']);
  });

  it('trace samples join the same statement: one select of `windows` per granularity and time zone, numbered after the queries', () => {
    const traces: TraceQuery[] = [
      { from: FROM, to: FROM + HOUR, granularity: 'HOUR', timeZone: 'Asia/Kolkata', currencies: ['XQZ'], byCurrency: false },
      { from: FROM - HOUR, to: FROM, granularity: 'HOUR', timeZone: 'Asia/Kolkata', currencies: null, byCurrency: true },
      { from: FROM, to: FROM + HOUR, granularity: 'MINUTE', timeZone: 'UTC', currencies: null, byCurrency: false },
    ];
    const queries = [query(), query({ version: 4 })];
    const { sql, params } = metricSeriesQuery(TENANT, queries, traces);
    const selects = sql.split('UNION ALL').map(squash);
    expect(selects).toHaveLength(3);
    expect(selects[1]).toContain('FROM windows FINAL');
    expect(selects[1]).toContain("has({q2_cur:Array(String)}, currency)");
    expect(selects[1]).toContain('{q3:Int32}, -1)]) AS q');
    expect(selects[1]).toContain('if(transform(q, {t0_ids:Array(Int32)}, {t0_bycur:Array(UInt8)}, toUInt8(0)) = 1, currency, \'\') AS slice');
    expect(selects[1]).toContain('arraySlice(anyIf(trace_sample, notEmpty(trace_sample)), 1, {trace_limit:UInt32}) AS traces');
    expect(selects[2]).toContain('{q4:Int32}, -1)]) AS q');
    expect(selects[0]).toContain("CAST([], 'Array(String)') AS traces");
    expect(params).toMatchObject({ t0_ids: [2, 3], t0_bycur: [0, 1], q2_cur: ['XQZ'], t0_tz: 'Asia/Kolkata', trace_limit: 5 });
    expectOnlyBoundValues(sql, params, [TENANT, 'XQZ', 'Asia/Kolkata']);
  });

  it('refuses a table it does not know', () => {
    expect(() => metricScans([query({ table: 'windows; DROP' })])).toThrow(/cannot read table/);
  });
});
