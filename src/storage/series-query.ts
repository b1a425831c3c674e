/**
 * Composes the series read (src/storage/series-reader.ts) from the selects in
 * series-selects.ts: the branches are grouped into scans, each scan contributes the
 * select for its metrics and, where distinct users are asked for, the one for its
 * users; all of them form ONE statement (UNION ALL) with every value bound.
 */
import type { ReadBranch } from './series-reader.ts';
import { countedUsers, groupedMetrics, mergedUsersAll, mergedUsersListed, openScan, storedRows, type Scan } from './series-selects.ts';
import { QueryParams, TABLES } from './series-sql.ts';

type Currencies = readonly string[] | 'all';

export interface SeriesQuery {
  sql: string;
  params: Record<string, unknown>;
  /** Per branch: each bucket is one stored row (the read returns rows as they are). */
  bucketIsRow: boolean[];
  /** Per branch: its stored rows cover every currency, so the reader adds them into the all-currency series. */
  sumsCombined: boolean[];
}

/** Currencies several branches need together. */
export function unionOf(lists: readonly Currencies[]): Currencies {
  return lists.includes('all') ? 'all' : [...new Set(lists.flat())].sort();
}

/**
 * Branches read by one scan: same table, granularity and time zone, ranges that do not
 * overlap (a dashboard's period and its comparison period). Every scan of the table has
 * a fixed cost (FINAL over its parts) that two periods need not pay twice.
 */
export function scanGroups(branches: readonly ReadBranch[]): number[][] {
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

/** What a scan's branches need together (a branch may get rows it did not ask for, e.g. another currency; they are never looked up). */
function needsOf(members: readonly ReadBranch[]) {
  return {
    combined: members.some((b) => b.combined),
    currencies: unionOf(members.map((b) => b.currencies)),
    traces: members.some((b) => b.traces),
    users: { combined: members.some((b) => b.users.combined), currencies: unionOf(members.map((b) => b.users.currencies)) },
  };
}
type Needs = ReturnType<typeof needsOf>;

/** The scan's metrics select: stored rows where a bucket is one row, else grouped buckets. */
function metricsSelect(p: QueryParams, s: Scan, n: Needs, bucketIsRow: boolean): string {
  const currencies = n.combined ? 'all' : n.currencies;
  if (bucketIsRow) return storedRows(p, s, { currencies, traces: n.traces });
  const perCurrency = n.currencies === 'all' || n.currencies.length > 0;
  const sets = [...(perCurrency ? ['(currency, start_ms)', '(currency)'] : []), ...(n.combined ? ['(start_ms)', '()'] : [])];
  return groupedMetrics(p, s, { currencies, sets, traces: n.traces });
}

/**
 * The scan's distinct-users selects, only where no stored count answers: counted over
 * users_hourly when the scan can, else one merge per scan so each row's users are read once.
 */
function usersSelects(p: QueryParams, s: Scan, n: Needs, bucketIsRow: boolean): string[] {
  const { users } = n;
  if (!users.combined && users.currencies !== 'all' && users.currencies.length === 0) return [];
  const combinedPoints = users.combined && !(bucketIsRow && s.spec.allCurrencyUsers !== null);
  const currencyPoints = !bucketIsRow;
  if (s.counted) {
    const scopes = users.currencies === 'all' ? null : [...(users.combined ? [''] : []), ...users.currencies];
    return [countedUsers(p, s, { scopes, point: false }), ...(currencyPoints ? [countedUsers(p, s, { scopes, point: true })] : [])];
  }
  if (users.currencies === 'all') {
    const sets = [...(currencyPoints ? ['(currency, start_ms)'] : []), '(currency)', ...(combinedPoints ? ['(start_ms)'] : []), ...(users.combined ? ['()'] : [])];
    return [mergedUsersAll(p, s, { sets })];
  }
  const sets = combinedPoints || (currencyPoints && users.currencies.length > 0) ? ['(start_ms)', '()'] : ['()'];
  return [mergedUsersListed(p, s, { combined: users.combined, currencies: users.currencies, sets })];
}

/** The one statement reading every branch of one tenant. */
export function seriesQuery(tenantId: string, branches: readonly ReadBranch[]): SeriesQuery {
  const p = new QueryParams();
  const bucketIsRow = branches.map((b) => TABLES.get(b.table)?.rowGranularity === b.granularity);
  const sumsCombined = branches.map(() => false);
  const selects = scanGroups(branches).flatMap((indices) => {
    const scan = openScan(p, tenantId, branches, indices);
    const needs = needsOf(indices.map((i) => branches[i]!));
    const isRow = bucketIsRow[indices[0]!]!;
    if (isRow && needs.combined) for (const i of indices) sumsCombined[i] = true;
    return [metricsSelect(p, scan, needs, isRow), ...usersSelects(p, scan, needs, isRow)];
  });
  return { sql: selects.join('\nUNION ALL\n'), params: p.values, bucketIsRow, sumsCombined };
}
