/**
 * Reads bucketed window aggregates for many series in ONE ClickHouse query. Each
 * distinct (range, granularity, time zone) is a branch; branches on the same table that
 * do not overlap (a dashboard's period and its comparison period) share one scan, with
 * the branch as a grouping key. Where a bucket is one stored row (HOUR buckets of
 * `windows_hourly`, MINUTE buckets of `windows`) the scan returns the rows as they are and
 * the reader adds up the all-currency points and every total (money exactly, MicroSum).
 * Other scans serve every currency and the all-currency sum through GROUPING SETS:
 *   (currency, bucket), (currency)  → per-currency points and totals (breakdowns too)
 *   (bucket), ()                    → points and total over all currencies
 * Money is summed as Decimal(38, 6) there and leaves as a string.
 *
 * Distinct users are never summed across rows. Where a bucket is one stored row (HOUR
 * buckets of `windows_hourly`, MINUTE buckets of `windows`) its stored exact count is
 * read as is. Other buckets and totals over `windows_hourly`, for ranges up to
 * USERS_LOOKBACK_HOURS, are a count over `users_hourly` (each user-hour keeps the user's
 * previous active hour: a user counts once, in the first hour of the interval where the
 * previous one lies before it). Everything else is an exact merge, in a second select
 * per scan with only the grouping sets and currencies that asked for distinct users —
 * merging was most of a read's cost, and the same merge is never done twice in one read.
 *
 * The statement is composed in series-query.ts from one function per kind of select
 * (series-selects.ts), every value a bound parameter; this module runs it as one
 * ClickHouse call and turns its columns into per-branch results.
 */
import { canonicalDecimal, MicroSum } from '../contracts/decimal.ts';
import type { Granularity } from '../contracts/metrics.ts';
import type { WindowValues } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { seriesQuery, type SeriesQuery } from './series-query.ts';
import { columns } from './series-sql.ts';
import { storedRow, Sums, type Columns } from './series-sums.ts';

export interface ReadBranch {
  /** Source table chosen by the caller (a closed set, see TABLES). */
  table: string;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  /** Currencies whose own points are needed; 'all' = every currency the tenant has (breakdowns). */
  currencies: readonly string[] | 'all';
  /** Also the sum over all currencies (series without a currency). */
  combined: boolean;
  /**
   * Where distinct users are needed (ACTIVE_USERS, ARPU): over all currencies, and for
   * these currencies (a subset of `currencies`). Elsewhere activeUsers reads 0.
   */
  users: { combined: boolean; currencies: readonly string[] | 'all' };
  /** Trace samples are needed (a dashboard rarely asks; they were most of a read's bytes). */
  traces: boolean;
}

export interface BucketRow extends WindowValues {
  allFinal: boolean;
  lastEventAt: number;
  traceSample: string[];
}

export interface Aggregate {
  buckets: Map<number, BucketRow>;
  /** null when the range holds no window at all. */
  total: BucketRow | null;
}

export interface BranchResult {
  combined: Aggregate;
  byCurrency: Map<string, Aggregate>;
}

/** Identifies the branch a request needs; requests with equal keys share one branch. */
export const branchKey = (b: Pick<ReadBranch, 'table' | 'from' | 'to' | 'granularity' | 'timeZone'>): string =>
  JSON.stringify([b.table, b.from, b.to, b.granularity, b.timeZone]);

const emptyAggregate = (): Aggregate => ({ buckets: new Map(), total: null });

/** The read's results, one per branch, and where row i of the answer lands. */
function resultsOf(c: Columns, n: number) {
  const results: BranchResult[] = Array.from({ length: n }, () => ({ combined: emptyAggregate(), byCurrency: new Map() }));
  const targetOf = (i: number): Aggregate => {
    const result = results[c.branch[i]!]!;
    if (c.all_currencies[i] === 1) return result.combined;
    let target = result.byCurrency.get(c.currency[i]!);
    if (!target) result.byCurrency.set(c.currency[i]!, (target = emptyAggregate()));
    return target;
  };
  return { results, targetOf };
}

/** Stored rows (part 2): each is a bucket of its currency; they add up into totals and, where asked, the all-currency series. */
function addStoredRows(c: Columns, q: SeriesQuery, r: ReturnType<typeof resultsOf>): void {
  const sums = new Sums(c);
  for (let i = 0; i < c.branch.length; i++) {
    if (c.users_part[i] !== 2) continue;
    const micros = MicroSum.micros(c.revenue[i]!);
    const start = c.start_ms[i]!;
    const perCurrency = r.targetOf(i);
    perCurrency.buckets.set(start, storedRow(c, i, c.active_users[i]!, canonicalDecimal(c.revenue[i]!)));
    perCurrency.total = sums.add(perCurrency.total ?? undefined, i, 0, micros);
    if (!q.sumsCombined[c.branch[i]!]) continue;
    const all = r.results[c.branch[i]!]!.combined;
    // Distinct users over all currencies: stored per hour (the same in each currency row), never added.
    all.buckets.set(start, sums.add(all.buckets.get(start), i, c.active_users_all[i]!, micros));
    all.total = sums.add(all.total ?? undefined, i, 0, micros);
  }
  sums.settle();
}

/** Grouped metrics (part 0): points and totals as ClickHouse summed them. */
function addGroupedRows(c: Columns, q: SeriesQuery, r: ReturnType<typeof resultsOf>): void {
  // The empty grouping set yields one row even over no windows: skip those.
  for (let i = 0; i < c.branch.length; i++) {
    if (c.windows[i] === 0 || c.users_part[i] !== 0) continue;
    const storedUsers = c.is_total[i] === 0 && q.bucketIsRow[c.branch[i]!];
    const value: BucketRow = {
      revenue: canonicalDecimal(c.revenue[i]!),
      purchases: c.purchases[i]!,
      signups: c.signups[i]!,
      upgrades: c.upgrades[i]!,
      churns: c.churns[i]!,
      activeUsers: storedUsers ? (c.all_currencies[i] === 1 ? c.active_users_all[i]! : c.active_users[i]!) : 0,
      allFinal: c.all_final[i] === 1,
      lastEventAt: c.last_event_at_ms[i]!,
      traceSample: c.trace_sample[i]!,
    };
    const target = r.targetOf(i);
    if (c.is_total[i] === 1) target.total = value;
    else target.buckets.set(c.start_ms[i]!, value);
  }
}

/**
 * Counted or merged distinct users (part 1) land on the buckets and totals above; a
 * currency with none there (a filtered merge over no rows of it) adds nothing, not even
 * an empty slice.
 */
function addUsers(c: Columns, r: ReturnType<typeof resultsOf>): void {
  for (let i = 0; i < c.branch.length; i++) {
    if (c.windows[i] === 0 || c.users_part[i] !== 1) continue;
    const result = r.results[c.branch[i]!]!;
    const target = c.all_currencies[i] === 1 ? result.combined : result.byCurrency.get(c.currency[i]!);
    const value = c.is_total[i] === 1 ? target?.total : target?.buckets.get(c.start_ms[i]!);
    if (value) value.activeUsers = c.active_users[i]!;
  }
}

export function createSeriesReader(db: ClickHouse) {
  return {
    /** One query for all branches of one tenant; results in the order of `branches`. */
    async read(tenantId: string, branches: readonly ReadBranch[], o: { signal?: AbortSignal } = {}): Promise<BranchResult[]> {
      if (branches.length === 0) return [];
      const q = seriesQuery(tenantId, branches);
      const c = await db.queryColumns({ queryId: 'series.read', sql: q.sql, params: q.params, columns, signal: o.signal });
      const r = resultsOf(c, branches.length);
      addStoredRows(c, q, r);
      addGroupedRows(c, q, r);
      addUsers(c, r);
      return r.results;
    },
  };
}

export type SeriesReader = ReturnType<typeof createSeriesReader>;
