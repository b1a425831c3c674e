/**
 * The series read's SQL (src/storage/series-selects.ts, series-query.ts): what each
 * kind of select reads and groups by, how the reader composes them into one statement,
 * and that every value travels as a bound parameter, never in the SQL text.
 * (Their results against ClickHouse: embedded-api, api-dashboard, rollup-hourly,
 * users-hourly and embedded-e2e.)
 */
import { describe, expect, it } from 'vitest';
import type { ReadBranch } from '../../src/storage/series-reader.ts';
import { scanGroups, seriesQuery } from '../../src/storage/series-query.ts';
import { countedUsers, groupedMetrics, mergedUsersAll, mergedUsersListed, openScan, storedRows } from '../../src/storage/series-selects.ts';
import { QueryParams } from '../../src/storage/series-sql.ts';

const TENANT = 'tenant-zq9x';
const HOUR = 3_600_000;
const FROM = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const branch = (o: Partial<ReadBranch> = {}): ReadBranch => ({
  table: 'windows',
  from: FROM,
  to: FROM + HOUR,
  granularity: 'MINUTE',
  timeZone: 'Asia/Kolkata',
  currencies: ['XQZ'],
  combined: false,
  users: { combined: false, currencies: [] },
  traces: false,
  ...o,
});

const squash = (sql: string) => sql.replace(/\s+/g, ' ').trim();
const placeholders = (sql: string) => [...sql.matchAll(/\{([a-z0-9_]+):([^}]+)\}/g)].map((m) => m[1]!);

/** Every placeholder is bound, every bound value is used, and no value appears in the SQL text. */
function expectOnlyBoundValues(sql: string, params: Record<string, unknown>, values: readonly (string | number)[]) {
  expect(new Set(placeholders(sql))).toEqual(new Set(Object.keys(params)));
  for (const v of values) expect(sql).not.toContain(String(v));
}

describe('QueryParams', () => {
  it('returns the placeholder and records the value; a name keeps one value', () => {
    const p = new QueryParams();
    expect(p.bind('tenant', 'String', 'a')).toBe('{tenant:String}');
    expect(p.bind('tenant', 'String', 'a')).toBe('{tenant:String}');
    expect(p.bind('cur', 'Array(String)', ['USD'])).toBe('{cur:Array(String)}');
    expect(p.values).toEqual({ tenant: 'a', cur: ['USD'] });
    expect(() => p.bind('tenant', 'String', 'b')).toThrow(/two values/);
    expect(() => p.bind("x'; DROP", 'String', 1)).toThrow(/bad query parameter name/);
  });
});

describe('one select per kind', () => {
  it('a scan binds the tenant, the ranges, the branch numbers and the time zone', () => {
    const p = new QueryParams();
    const branches = [branch(), branch({ from: FROM - HOUR, to: FROM })];
    const s = openScan(p, TENANT, branches, [0, 1]);
    expect(s.where).toBe(
      "tenant_id = {tenant:String} AND ((window_start >= fromUnixTimestamp64Milli({b0_from:Int64}, 'UTC') AND window_start < fromUnixTimestamp64Milli({b0_to:Int64}, 'UTC'))" +
        " OR (window_start >= fromUnixTimestamp64Milli({b1_from:Int64}, 'UTC') AND window_start < fromUnixTimestamp64Milli({b1_to:Int64}, 'UTC')))",
    );
    expect(s.branchColumn).toMatch(/^multiIf\(window_start >= .*\{b0:Int32\}, window_start >= .*\{b1:Int32\}, -1\) AS branch$/);
    expect(s.counted).toBeNull();
    expect(p.values).toEqual({ tenant: TENANT, b0_from: FROM, b0_to: FROM + HOUR, b1_from: FROM - HOUR, b1_to: FROM, b0: 0, b1: 1 });
    expect(s.bucket()).toBe('toInt64(toUnixTimestamp(window_start)) * 1000'); // minutes: no time zone
    expect(p.values).not.toHaveProperty('g0_tz');
    const days = openScan(p, TENANT, [branch(), branch(), branch({ granularity: 'DAY' })], [2]);
    expect(days.bucket()).toBe('toInt64(toUnixTimestamp(toStartOfDay(window_start, {g2_tz:String}))) * 1000');
    expect(p.values.g2_tz).toBe('Asia/Kolkata');
  });

  it('minute scan: the stored rows of `windows`, only the asked currencies', () => {
    const p = new QueryParams();
    const sql = squash(storedRows(p, openScan(p, TENANT, [branch()], [0]), { currencies: ['XQZ', 'EUR'], traces: false }));
    expect(sql).toMatch(/^SELECT \{b0:Int32\} AS branch, currency, toUInt8\(0\) AS all_currencies, toInt64\(toUnixTimestamp\(window_start\)\) \* 1000 AS start_ms/);
    expect(sql).toContain('2 AS users_part');
    expect(sql).toContain("CAST([], 'Array(String)') AS trace_sample");
    expect(sql).toMatch(/FROM windows FINAL WHERE tenant_id = \{tenant:String\} AND .* AND currency IN \{g0_cur:Array\(String\)\}$/);
    expect(sql).not.toContain('GROUP BY');
    expect(p.values.g0_cur).toEqual(['XQZ', 'EUR']);
  });

  it('hourly rollup scan: windows_hourly rows, all currencies, traces and all-currency users', () => {
    const p = new QueryParams();
    const b = branch({ table: 'windows_hourly', granularity: 'HOUR', to: FROM + 40 * 24 * HOUR });
    const sql = squash(storedRows(p, openScan(p, TENANT, [b], [0]), { currencies: 'all', traces: true }));
    expect(sql).toContain('toInt64(toUnixTimestamp(hour_start)) * 1000 AS start_ms');
    expect(sql).toContain('active_users_all_currencies AS active_users_all');
    expect(sql).toContain('arraySlice(trace_sample, 1, 5) AS trace_sample');
    expect(sql).toMatch(/FROM windows_hourly FINAL WHERE tenant_id = \{tenant:String\} AND \(\(hour_start >= [^)]*\)[^)]*\)\)\)$/);
    expect(sql).not.toContain('currency IN');
  });

  it('short hour-aligned ranges read metrics from users_hourly, its currency rows only', () => {
    const p = new QueryParams();
    const b = branch({ table: 'windows_hourly', granularity: 'HOUR', to: FROM + 24 * HOUR });
    const s = openScan(p, TENANT, [b], [0]);
    expect(s.counted?.table).toBe('users_hourly');
    expect(squash(storedRows(p, s, { currencies: 'all', traces: false }))).toMatch(/FROM users_hourly FINAL WHERE .* AND scope != ''$/);
  });

  it('bucket grouping: a bucket expression in the time zone, grouping sets by branch', () => {
    const p = new QueryParams();
    const s = openScan(p, TENANT, [branch({ table: 'windows_hourly', granularity: 'WEEK', to: FROM + 90 * 24 * HOUR })], [0]);
    const sql = squash(groupedMetrics(p, s, { currencies: 'all', sets: ['(currency, start_ms)', '(currency)', '(start_ms)', '()'], traces: false }));
    expect(sql).toContain('currency, grouping(currency) AS all_currencies');
    expect(sql).toContain('toInt64(toUnixTimestamp(toDateTime(toStartOfWeek(hour_start, 1, {g0_tz:String}), {g0_tz:String}))) * 1000 AS start_ms, grouping(start_ms) AS is_total');
    expect(sql).toContain('count() AS windows, 0 AS users_part, toString(sum(revenue)) AS revenue');
    expect(sql).toMatch(/FROM windows_hourly FINAL WHERE .* GROUP BY GROUPING SETS \(\(branch, currency, start_ms\), \(branch, currency\), \(branch, start_ms\), \(branch\)\)$/);
  });

  it('totals only: no bucket, no currency column', () => {
    const p = new QueryParams();
    const s = openScan(p, TENANT, [branch({ granularity: 'DAY' })], [0]);
    const sql = squash(groupedMetrics(p, s, { currencies: ['XQZ'], sets: ['()'], traces: false }));
    expect(sql).toContain("SELECT {b0:Int32} AS branch, '' AS currency, toUInt8(1) AS all_currencies, toInt64(0) AS start_ms, toUInt8(1) AS is_total");
    expect(sql).toMatch(/GROUP BY GROUPING SETS \(\(branch\)\)$/);
  });

  it('counted users: previous hours before the branch start (totals) or the bucket start (points)', () => {
    const p = new QueryParams();
    const s = openScan(p, TENANT, [branch({ table: 'windows_hourly', granularity: 'DAY', to: FROM + 7 * 24 * HOUR })], [0]);
    const total = squash(countedUsers(p, s, { scopes: ['', 'XQZ'], point: false }));
    expect(total).toContain('sum(arrayCount(p -> p < threshold, prev_hours)) AS active_users');
    expect(total).toContain('toUInt32(intDiv(multiIf(branch = {b0:Int32}, {b0_from:Int64}, 0), 3600000)) AS threshold');
    expect(total).toMatch(/FROM users_hourly FINAL WHERE .* AND scope IN \{g0_scopes:Array\(String\)\}\) GROUP BY branch, scope$/);
    const points = squash(countedUsers(p, s, { scopes: ['', 'XQZ'], point: true }));
    expect(points).toContain('toUInt32(greatest(intDiv(start_ms, 3600000), intDiv(multiIf(branch = {b0:Int32}, {b0_from:Int64}, 0), 3600000))) AS threshold');
    expect(points).toMatch(/GROUP BY branch, scope, start_ms$/);
    expect(p.values.g0_scopes).toEqual(['', 'XQZ']);
    const q = new QueryParams();
    expect(() => countedUsers(q, openScan(q, TENANT, [branch()], [0]), { scopes: null, point: false })).toThrow(/no counting table/);
  });

  it('merged users: every currency by grouping sets, or listed currencies side by side', () => {
    const p = new QueryParams();
    const s = openScan(p, TENANT, [branch({ table: 'windows', granularity: 'HOUR' })], [0]);
    const all = squash(mergedUsersAll(p, s, { sets: ['(currency, start_ms)', '(currency)'] }));
    expect(all).toContain('uniqExactMerge(users) AS active_users');
    expect(all).toContain('1 AS users_part');
    const listed = squash(mergedUsersListed(p, s, { combined: false, currencies: ['XQZ', 'EUR'], sets: ['(start_ms)', '()'] }));
    expect(listed).toContain("arrayZip({g0_unames:Array(String)}, [uniqExactMergeIf(users, currency = {g0_u0:String}), uniqExactMergeIf(users, currency = {g0_u1:String})]) AS pairs");
    expect(listed).toMatch(/AND currency IN \{g0_ucur:Array\(String\)\} GROUP BY GROUPING SETS \(\(branch, start_ms\), \(branch\)\)\) ARRAY JOIN pairs AS pair$/);
    expect(p.values).toMatchObject({ g0_unames: ['XQZ', 'EUR'], g0_u0: 'XQZ', g0_u1: 'EUR', g0_ucur: ['XQZ', 'EUR'] });
    const combined = squash(mergedUsersListed(new QueryParams(), s, { combined: true, currencies: [], sets: ['()'] }));
    expect(combined).toContain('arrayZip({g0_unames:Array(String)}, [uniqExactMerge(users)])');
    expect(combined).not.toContain('currency IN');
  });
});

describe('the composed read', () => {
  it('a period and its comparison share one scan; overlapping ranges or another table do not', () => {
    const period = branch();
    const comparison = branch({ from: FROM - HOUR, to: FROM });
    expect(scanGroups([period, comparison])).toEqual([[0, 1]]);
    expect(scanGroups([period, branch({ to: FROM + 2 * HOUR })])).toEqual([[0], [1]]);
    expect(scanGroups([period, branch({ timeZone: 'UTC' }), branch({ table: 'windows_hourly', granularity: 'HOUR' })])).toEqual([[0], [1], [2]]);
  });

  it('one statement: per scan a metrics select, and a users select only where users are asked for', () => {
    const q = seriesQuery(TENANT, [
      branch({ combined: true }),
      branch({ from: FROM - HOUR, to: FROM, combined: true }),
      branch({ table: 'windows_hourly', granularity: 'DAY', to: FROM + 90 * 24 * HOUR, users: { combined: true, currencies: ['XQZ'] } }),
    ]);
    const selects = q.sql.split('\nUNION ALL\n');
    expect(selects).toHaveLength(3);
    expect(squash(selects[0]!)).toMatch(/^SELECT multiIf\(.*\{b0:Int32\}.*\{b1:Int32\}, -1\) AS branch, .*2 AS users_part.* FROM windows FINAL /); // both minute branches, stored rows
    expect(squash(selects[1]!)).toMatch(/GROUP BY GROUPING SETS \(\(branch, currency, start_ms\), \(branch, currency\)\)$/);
    expect(squash(selects[2]!)).toContain('ARRAY JOIN pairs AS pair');
    expect(q.bucketIsRow).toEqual([true, true, false]);
    expect(q.sumsCombined).toEqual([true, true, false]);
  });

  it('a short hour-aligned range counts its users from users_hourly (totals and points)', () => {
    const q = seriesQuery(TENANT, [branch({ table: 'windows_hourly', granularity: 'DAY', to: FROM + 7 * 24 * HOUR, combined: true, users: { combined: true, currencies: 'all' } })]);
    const selects = q.sql.split('\nUNION ALL\n').map(squash);
    expect(selects).toHaveLength(3);
    expect(selects.every((s) => s.includes('FROM users_hourly FINAL'))).toBe(true);
    expect(selects[1]).not.toContain('scope IN'); // every scope
    expect(selects[2]).toMatch(/GROUP BY branch, scope, start_ms$/);
  });

  it.each([
    ['minute rows', [branch({ combined: true, traces: true })]],
    ['hour rows with users', [branch({ table: 'windows_hourly', granularity: 'HOUR', to: FROM + 48 * HOUR, combined: true, users: { combined: true, currencies: ['XQZ'] } })]],
    ['days over a long range, every currency', [branch({ table: 'windows_hourly', granularity: 'DAY', to: FROM + 60 * 24 * HOUR, currencies: 'all', users: { combined: false, currencies: 'all' } })]],
    ['months with a comparison', [branch({ granularity: 'MONTH', combined: true, users: { combined: true, currencies: [] } }), branch({ granularity: 'MONTH', from: FROM - HOUR, to: FROM, combined: true })]],
  ] as const)('%s: values only as parameters', (_, branches) => {
    const q = seriesQuery(TENANT, branches);
    expectOnlyBoundValues(q.sql, q.params, [TENANT, 'Asia/Kolkata', 'XQZ', FROM, FROM + HOUR, FROM - HOUR]);
    expect(q.params.tenant).toBe(TENANT);
  });

  it('refuses a table outside the closed set', () => {
    expect(() => seriesQuery(TENANT, [branch({ table: 'events; DROP TABLE windows' })])).toThrow(/cannot read table/);
  });
});
