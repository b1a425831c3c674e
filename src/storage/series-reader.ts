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
 */
import { canonicalDecimal, MicroSum } from '../contracts/decimal.ts';
import type { Granularity } from '../contracts/metrics.ts';
import type { WindowValues } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';
import { BUCKET_SQL, columns, METRICS, ROW, TABLES, USERS } from './series-sql.ts';
import { storedRow, Sums } from './series-sums.ts';

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

/** Currencies several branches need together. */
function unionOf(lists: readonly (readonly string[] | 'all')[]): readonly string[] | 'all' {
  return lists.includes('all') ? 'all' : [...new Set(lists.flat())].sort();
}

/**
 * Branches read by one scan: same table, granularity and time zone, ranges that do not
 * overlap (a dashboard's period and its comparison period). Every scan of the table has
 * a fixed cost (FINAL over its parts) that two periods need not pay twice.
 */
function scanGroups(branches: readonly ReadBranch[]): number[][] {
  const groups: number[][] = [];
  branches.forEach((b, i) => {
    const fits = (g: number[]) =>
      g.every((j) => {
        const o = branches[j]!;
        return o.table === b.table && o.granularity === b.granularity && o.timeZone === b.timeZone && (o.to <= b.from || b.to <= o.from);
      });
    const group = groups.find(fits);
    if (group) group.push(i);
    else groups.push([i]);
  });
  return groups;
}

export function createSeriesReader(db: ClickHouse) {
  return {
    /** One query for all branches of one tenant; results in the order of `branches`. */
    async read(tenantId: string, branches: readonly ReadBranch[]): Promise<BranchResult[]> {
      if (branches.length === 0) return [];
      const params: Record<string, unknown> = { tenant: tenantId };
      const bucketIsRow = branches.map((b) => TABLES.get(b.table)?.rowGranularity === b.granularity);
      /** Branches whose stored rows (part 2) cover every currency, so their sum over currencies is right. */
      const sumsCombined = branches.map(() => false);
      const sql = scanGroups(branches).flatMap((group) => {
        const first = branches[group[0]!]!;
        const t = TABLES.get(first.table);
        if (!t) throw new Error(`series reader cannot read table "${first.table}"`);
        const g = `g${group[0]}`;
        params[`${g}_tz`] = first.timeZone;
        // Each row belongs to at most one branch of the group (their ranges do not overlap).
        const ranges = group.map((i) => {
          params[`b${i}_from`] = branches[i]!.from;
          params[`b${i}_to`] = branches[i]!.to;
          return `${t.time} >= fromUnixTimestamp64Milli({b${i}_from:Int64}, 'UTC') AND ${t.time} < fromUnixTimestamp64Milli({b${i}_to:Int64}, 'UTC')`;
        });
        const branchColumn = group.length === 1 ? `${group[0]} AS branch` : `multiIf(${group.map((i, k) => `${ranges[k]}, ${i}`).join(', ')}, -1) AS branch`;
        const where = `tenant_id = {tenant:String} AND (${ranges.map((r) => `(${r})`).join(' OR ')})`;
        const bucket = `toInt64(toUnixTimestamp(${BUCKET_SQL[first.granularity](t.time, `${g}_tz`)})) * 1000`;
        // grouping(x) is only valid when some set groups by x.
        const startColumns = (sets: string[]) => (sets.some((x) => x.includes('start_ms')) ? `${bucket} AS start_ms, grouping(start_ms) AS is_total` : 'toInt64(0) AS start_ms, toUInt8(1) AS is_total');
        const withBranch = (sets: string[]) => sets.map((x) => (x === '()' ? '(branch)' : `(branch, ${x.slice(1)}`));
        // What the group's branches need together (a branch may get rows it did not ask
        // for, e.g. another currency; they are never looked up).
        const members = group.map((i) => branches[i]!);
        // Ranges short enough to count distinct users read everything from the counting
        // table, whose currency rows carry the same hour's metrics: metrics and users of
        // one read then always come from the same recompute.
        const counted = t.countedUsers && members.every((b) => b.to - b.from <= t.countedUsers!.lookbackMs) ? t.countedUsers : null;
        const source = counted ? counted.table : first.table;
        const metricsWhere = counted ? `${where} AND scope != ''` : where;
        const select = (o: { part: string; currencies: readonly string[] | 'all'; sets: string[] }) => {
          if (o.currencies !== 'all') params[`${g}_cur`] = o.currencies;
          const currencyColumns = o.sets.some((x) => x.includes('currency')) ? 'currency, grouping(currency) AS all_currencies' : "'' AS currency, toUInt8(1) AS all_currencies";
          return `SELECT ${branchColumn}, ${currencyColumns}, ${startColumns(o.sets)}, ${o.part}
                  FROM ${source} FINAL WHERE ${metricsWhere} ${o.currencies !== 'all' ? `AND currency IN {${g}_cur:Array(String)}` : ''}
                  GROUP BY GROUPING SETS (${withBranch(o.sets).join(', ')})`;
        };
        const combined = members.some((b) => b.combined);
        const currencies = unionOf(members.map((b) => b.currencies));
        const perCurrency = currencies === 'all' || currencies.length > 0;
        const traces = members.some((b) => b.traces);
        const selects: string[] = [];
        if (bucketIsRow[group[0]!]) {
          // Each bucket is one stored row: read the rows as they are and add them up here
          // (all-currency points, totals). A GROUP BY over a few thousand rows cost more
          // in ClickHouse than the sums cost in JS.
          if (combined) for (const i of group) sumsCombined[i] = true;
          if (!combined && currencies !== 'all') params[`${g}_cur`] = currencies;
          selects.push(`SELECT ${branchColumn}, currency, toUInt8(0) AS all_currencies, toInt64(toUnixTimestamp(${t.time})) * 1000 AS start_ms, toUInt8(0) AS is_total,
                   toUInt64(1) AS windows, ${ROW(t.allCurrencyUsers, traces)}
            FROM ${source} FINAL WHERE ${metricsWhere} ${!combined && currencies !== 'all' ? `AND currency IN {${g}_cur:Array(String)}` : ''}`);
        } else {
          selects.push(
            select({
              part: `count() AS windows, ${METRICS(t.allCurrencyUsers, traces)}`,
              currencies: combined ? 'all' : currencies,
              sets: [...(perCurrency ? ['(currency, start_ms)', '(currency)'] : []), ...(combined ? ['(start_ms)', '()'] : [])],
            }),
          );
        }
        // Merged distinct users, only where no stored count answers, in one select per
        // group so each row's users are read once.
        const users = { combined: members.some((b) => b.users.combined), currencies: unionOf(members.map((b) => b.users.currencies)) };
        const combinedPoints = users.combined && !(bucketIsRow[group[0]!] && t.allCurrencyUsers !== null);
        const currencyPoints = !bucketIsRow[group[0]!];
        if (counted && (users.combined || users.currencies === 'all' || users.currencies.length > 0)) {
          // A user counts in the hour where their previous active hour (in that scope)
          // lies before the interval: totals from the branch's start, points from their
          // bucket's — or the branch's, when it starts inside the first bucket (only its
          // part in range is read). '' is the scope over all currencies.
          const scopes = users.currencies === 'all' ? null : [...(users.combined ? [''] : []), ...users.currencies];
          if (scopes) params[`${g}_scopes`] = scopes;
          const fromHour = `intDiv(multiIf(${group.map((i) => `branch = ${i}, {b${i}_from:Int64}`).join(', ')}, 0), 3600000)`;
          const count = (threshold: string, point: boolean) => `SELECT branch, scope AS currency, toUInt8(scope = '') AS all_currencies, ${point ? 'start_ms, toUInt8(0)' : 'toInt64(0) AS start_ms, toUInt8(1)'} AS is_total,
                   count() AS windows, ${USERS('sum(arrayCount(p -> p < threshold, prev_hours))')}
            FROM (SELECT ${branchColumn}, scope, ${point ? `${bucket} AS start_ms, ` : ''}prev_hours, toUInt32(${threshold}) AS threshold
                  FROM ${counted.table} FINAL WHERE ${where} ${scopes ? `AND scope IN {${g}_scopes:Array(String)}` : ''})
            GROUP BY branch, scope${point ? ', start_ms' : ''}`;
          selects.push(count(fromHour, false));
          if (currencyPoints) selects.push(count(`greatest(intDiv(start_ms, 3600000), ${fromHour})`, true));
        } else if (users.currencies === 'all') {
          // Every currency (and maybe their sum): grouping sets, one merge.
          const sets = [...(currencyPoints ? ['(currency, start_ms)'] : []), '(currency)', ...(combinedPoints ? ['(start_ms)'] : []), ...(users.combined ? ['()'] : [])];
          selects.push(select({ part: `count() AS windows, ${USERS(t.mergeUsers())}`, currencies: 'all', sets }));
        } else if (users.combined || users.currencies.length > 0) {
          // The sum over all currencies ('' names it) and one filtered merge per listed
          // currency, computed side by side and returned as one row per (name, count) pair.
          params[`${g}_unames`] = [...(users.combined ? [''] : []), ...users.currencies];
          const counts = [...(users.combined ? [t.mergeUsers()] : []), ...users.currencies.map((_, k) => t.mergeUsers(`currency = {${g}_u${k}:String}`))];
          users.currencies.forEach((c, k) => (params[`${g}_u${k}`] = c));
          if (!users.combined) params[`${g}_ucur`] = users.currencies;
          const sets = combinedPoints || (currencyPoints && users.currencies.length > 0) ? ['(start_ms)', '()'] : ['()'];
          selects.push(`SELECT branch, pair.1 AS currency, toUInt8(pair.1 = '') AS all_currencies, start_ms, is_total, windows, ${USERS('pair.2')}
                  FROM (SELECT ${branchColumn}, ${startColumns(sets)}, count() AS windows, arrayZip({${g}_unames:Array(String)}, [${counts.join(', ')}]) AS pairs
                        FROM ${first.table} FINAL WHERE ${where} ${users.combined ? '' : `AND currency IN {${g}_ucur:Array(String)}`}
                        GROUP BY GROUPING SETS (${withBranch(sets).join(', ')}))
                  ARRAY JOIN pairs AS pair`);
        }
        return selects;
      });
      const c = await db.queryColumns({ queryId: 'series.read', sql: sql.join('\nUNION ALL\n'), params, columns });
      const results: BranchResult[] = branches.map(() => ({ combined: emptyAggregate(), byCurrency: new Map() }));
      const targetOf = (i: number): Aggregate => {
        const result = results[c.branch[i]!]!;
        if (c.all_currencies[i] === 1) return result.combined;
        let target = result.byCurrency.get(c.currency[i]!);
        if (!target) result.byCurrency.set(c.currency[i]!, (target = emptyAggregate()));
        return target;
      };
      const rows = c.branch.length;
      const sums = new Sums(c);
      for (let i = 0; i < rows; i++) {
        if (c.users_part[i] !== 2) continue;
        const micros = MicroSum.micros(c.revenue[i]!);
        const start = c.start_ms[i]!;
        const perCurrency = targetOf(i);
        perCurrency.buckets.set(start, storedRow(c, i, c.active_users[i]!, canonicalDecimal(c.revenue[i]!)));
        perCurrency.total = sums.add(perCurrency.total ?? undefined, i, 0, micros);
        if (!sumsCombined[c.branch[i]!]) continue;
        const all = results[c.branch[i]!]!.combined;
        // Distinct users over all currencies: stored per hour (the same in each currency row), never added.
        all.buckets.set(start, sums.add(all.buckets.get(start), i, c.active_users_all[i]!, micros));
        all.total = sums.add(all.total ?? undefined, i, 0, micros);
      }
      sums.settle();
      // The empty grouping set yields one row even over no windows: skip those.
      for (let i = 0; i < rows; i++) {
        if (c.windows[i] === 0 || c.users_part[i] !== 0) continue;
        const storedUsers = c.is_total[i] === 0 && bucketIsRow[c.branch[i]!];
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
        const target = targetOf(i);
        if (c.is_total[i] === 1) target.total = value;
        else target.buckets.set(c.start_ms[i]!, value);
      }
      // Merged users land on the buckets and totals above; a currency with none there (a
      // filtered merge over no rows of it) adds nothing, not even an empty slice.
      for (let i = 0; i < rows; i++) {
        if (c.windows[i] === 0 || c.users_part[i] !== 1) continue;
        const result = results[c.branch[i]!]!;
        const target = c.all_currencies[i] === 1 ? result.combined : result.byCurrency.get(c.currency[i]!);
        const value = c.is_total[i] === 1 ? target?.total : target?.buckets.get(c.start_ms[i]!);
        if (value) value.activeUsers = c.active_users[i]!;
      }
      return results;
    },
  };
}

export type SeriesReader = ReturnType<typeof createSeriesReader>;
