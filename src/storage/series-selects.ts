/**
 * The selects of the series read, one function per kind, each returning one SELECT of
 * the read's UNION ALL (columns as `columns` in series-sql.ts) and binding its values in
 * the read's QueryParams. src/storage/series-query.ts composes them per scan:
 * - storedRows:        the rows as they are, where a bucket is one row (minute buckets
 *                      of `windows`, hour buckets of `windows_hourly` / `users_hourly`);
 * - groupedMetrics:    buckets of several rows, GROUPING SETS per currency and overall;
 * - countedUsers:      distinct users counted from `users_hourly`'s previous hours;
 * - mergedUsersAll:    distinct users merged for every currency (grouping sets);
 * - mergedUsersListed: distinct users merged overall and for listed currencies only.
 */
import type { ReadBranch } from './series-reader.ts';
import { BUCKET_SQL, METRICS, ROW, TABLES, USERS, type QueryParams, type TableSpec } from './series-sql.ts';

type Currencies = readonly string[] | 'all';

/** One scan of a table: branches of the same table, granularity and time zone whose ranges do not overlap. */
export interface Scan {
  /** Prefix of the scan's own parameter names (`g` + its first branch). */
  name: string;
  table: string;
  spec: TableSpec;
  /** The scan's branches (indices into the read's branches). */
  indices: readonly number[];
  /** Placeholder of each branch's `from` (ms), by index. */
  fromOf: ReadonlyMap<number, string>;
  /** Placeholder of each branch's number, by index. */
  idOf: ReadonlyMap<number, string>;
  /** `… AS branch`: the branch a row belongs to (each row is in at most one range). */
  branchColumn: string;
  /** Tenant and the branches' ranges. */
  where: string;
  /** Each row's bucket start in ms (binds the time zone when first used). */
  bucket: () => string;
  /**
   * `users_hourly` when every branch is short enough for its distinct users to be a
   * count; metrics then come from that table too (one recompute for both), else null.
   */
  counted: { table: string; lookbackMs: number } | null;
}

/** Opens the scan of `indices` (branches of one table, granularity and time zone). */
export function openScan(p: QueryParams, tenantId: string, branches: readonly ReadBranch[], indices: readonly number[]): Scan {
  const first = branches[indices[0]!]!;
  const spec = TABLES.get(first.table);
  if (!spec) throw new Error(`series reader cannot read table "${first.table}"`);
  const name = `g${indices[0]}`;
  const t = spec.time;
  const fromOf = new Map(indices.map((i) => [i, p.bind(`b${i}_from`, 'Int64', branches[i]!.from)]));
  const idOf = new Map(indices.map((i) => [i, p.bind(`b${i}`, 'Int32', i)]));
  const ranges = indices.map((i) => `${t} >= fromUnixTimestamp64Milli(${fromOf.get(i)}, 'UTC') AND ${t} < fromUnixTimestamp64Milli(${p.bind(`b${i}_to`, 'Int64', branches[i]!.to)}, 'UTC')`);
  const branchColumn = indices.length === 1 ? `${idOf.get(indices[0]!)} AS branch` : `multiIf(${indices.map((i, k) => `${ranges[k]}, ${idOf.get(i)}`).join(', ')}, -1) AS branch`;
  const counted = spec.countedUsers && indices.every((i) => branches[i]!.to - branches[i]!.from <= spec.countedUsers!.lookbackMs) ? spec.countedUsers : null;
  return {
    name,
    table: first.table,
    spec,
    indices,
    fromOf,
    idOf,
    branchColumn,
    where: `tenant_id = ${p.bind('tenant', 'String', tenantId)} AND (${ranges.map((r) => `(${r})`).join(' OR ')})`,
    // Minutes are the same instants in every zone: no time zone to bind.
    bucket: () => `toInt64(toUnixTimestamp(${first.granularity === 'MINUTE' ? t : BUCKET_SQL[first.granularity](t, p.bind(`${name}_tz`, 'String', first.timeZone))})) * 1000`,
    counted,
  };
}

/** The table metrics are read from, and its condition (the counting table's currency rows only). */
const metricsSource = (s: Scan) => (s.counted ? { table: s.counted.table, where: `${s.where} AND scope != ''` } : { table: s.table, where: s.where });

const currencyFilter = (p: QueryParams, name: string, currencies: Currencies) => (currencies === 'all' ? '' : `AND currency IN ${p.bind(name, 'Array(String)', currencies)}`);

// grouping(x) is only valid when some set groups by x.
const startColumns = (s: Scan, sets: readonly string[]) =>
  sets.some((x) => x.includes('start_ms')) ? `${s.bucket()} AS start_ms, grouping(start_ms) AS is_total` : 'toInt64(0) AS start_ms, toUInt8(1) AS is_total';
const currencyColumns = (sets: readonly string[]) =>
  sets.some((x) => x.includes('currency')) ? 'currency, grouping(currency) AS all_currencies' : "'' AS currency, toUInt8(1) AS all_currencies";
/** Every grouping set also groups by branch. */
const groupingSets = (sets: readonly string[]) => `GROUPING SETS (${sets.map((x) => (x === '()' ? '(branch)' : `(branch, ${x.slice(1)}`)).join(', ')})`;

function grouped(p: QueryParams, s: Scan, o: { part: string; currencies: Currencies; sets: readonly string[] }): string {
  const source = metricsSource(s);
  return `SELECT ${s.branchColumn}, ${currencyColumns(o.sets)}, ${startColumns(s, o.sets)}, ${o.part}
  FROM ${source.table} FINAL WHERE ${source.where} ${currencyFilter(p, `${s.name}_cur`, o.currencies)}
  GROUP BY ${groupingSets(o.sets)}`;
}

/**
 * Each bucket is one stored row: the rows as they are (users_part 2); the reader adds
 * them up into all-currency points and totals (cheaper in JS than a GROUP BY here).
 */
export function storedRows(p: QueryParams, s: Scan, o: { currencies: Currencies; traces: boolean }): string {
  const source = metricsSource(s);
  return `SELECT ${s.branchColumn}, currency, toUInt8(0) AS all_currencies, toInt64(toUnixTimestamp(${s.spec.time})) * 1000 AS start_ms, toUInt8(0) AS is_total,
         toUInt64(1) AS windows, ${ROW(s.spec.allCurrencyUsers, o.traces)}
  FROM ${source.table} FINAL WHERE ${source.where} ${currencyFilter(p, `${s.name}_cur`, o.currencies)}`;
}

/**
 * Buckets of several rows, summed in ClickHouse (users_part 0). Typical sets:
 * (currency, start_ms), (currency) → per-currency points and totals; (start_ms), () →
 * points and total over all currencies.
 */
export function groupedMetrics(p: QueryParams, s: Scan, o: { currencies: Currencies; sets: readonly string[]; traces: boolean }): string {
  return grouped(p, s, { part: `count() AS windows, ${METRICS(s.spec.allCurrencyUsers, o.traces)}`, currencies: o.currencies, sets: o.sets });
}

/**
 * Distinct users as a count over the counting table (users_part 1): a user counts in
 * the hour where their previous active hour (in that scope) lies before the interval —
 * totals (`point` false) from the branch's start, points from their bucket's, or the
 * branch's when it starts inside the first bucket. Scope '' is all currencies; `scopes`
 * null = every scope.
 */
export function countedUsers(p: QueryParams, s: Scan, o: { scopes: readonly string[] | null; point: boolean }): string {
  if (!s.counted) throw new Error(`scan ${s.name} has no counting table`);
  const fromHour = `intDiv(multiIf(${s.indices.map((i) => `branch = ${s.idOf.get(i)}, ${s.fromOf.get(i)}`).join(', ')}, 0), 3600000)`;
  const threshold = o.point ? `greatest(intDiv(start_ms, 3600000), ${fromHour})` : fromHour;
  const scopes = o.scopes ? `AND scope IN ${p.bind(`${s.name}_scopes`, 'Array(String)', o.scopes)}` : '';
  return `SELECT branch, scope AS currency, toUInt8(scope = '') AS all_currencies, ${o.point ? 'start_ms, toUInt8(0)' : 'toInt64(0) AS start_ms, toUInt8(1)'} AS is_total,
         count() AS windows, ${USERS('sum(arrayCount(p -> p < threshold, prev_hours))')}
  FROM (SELECT ${s.branchColumn}, scope, ${o.point ? `${s.bucket()} AS start_ms, ` : ''}prev_hours, toUInt32(${threshold}) AS threshold
        FROM ${s.counted.table} FINAL WHERE ${s.where} ${scopes})
  GROUP BY branch, scope${o.point ? ', start_ms' : ''}`;
}

/** Distinct users merged for every currency (and, with the sets for it, overall): one merge per grouping set (users_part 1). */
export function mergedUsersAll(p: QueryParams, s: Scan, o: { sets: readonly string[] }): string {
  return grouped(p, s, { part: `count() AS windows, ${USERS(s.spec.mergeUsers())}`, currencies: 'all', sets: o.sets });
}

/**
 * Distinct users merged over all currencies ('' names it, when `combined`) and one
 * filtered merge per listed currency, computed side by side in one pass and returned
 * as one row per (name, count) pair (users_part 1).
 */
export function mergedUsersListed(p: QueryParams, s: Scan, o: { combined: boolean; currencies: readonly string[]; sets: readonly string[] }): string {
  const names = p.bind(`${s.name}_unames`, 'Array(String)', [...(o.combined ? [''] : []), ...o.currencies]);
  const counts = [...(o.combined ? [s.spec.mergeUsers()] : []), ...o.currencies.map((c, k) => s.spec.mergeUsers(`currency = ${p.bind(`${s.name}_u${k}`, 'String', c)}`))];
  const filter = o.combined ? '' : currencyFilter(p, `${s.name}_ucur`, o.currencies);
  return `SELECT branch, pair.1 AS currency, toUInt8(pair.1 = '') AS all_currencies, start_ms, is_total, windows, ${USERS('pair.2')}
  FROM (SELECT ${s.branchColumn}, ${startColumns(s, o.sets)}, count() AS windows, arrayZip(${names}, [${counts.join(', ')}]) AS pairs
        FROM ${s.table} FINAL WHERE ${s.where} ${filter}
        GROUP BY ${groupingSets(o.sets)})
  ARRAY JOIN pairs AS pair`;
}
