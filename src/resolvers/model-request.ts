/**
 * A model metric request (Query.metricSeries, Query.metricBreakdown) checked against the
 * plan before any work: the version exists, filters and the breakdown use only dimensions
 * the metric (every operand of a formula) stores, money has one currency, and the range
 * fits a source of the narrow tables (migrations/0010). Errors say how to fix the request.
 */
import type { Granularity } from '../contracts/metrics.ts';
import type { DimensionSpec, MetricVersion, ModelPlan } from '../model/types.ts';
import { canonicalTimeZone } from './buckets.ts';
import { comparisonRange, type Comparison } from './periods.ts';
import { badInput } from './series.ts';
import { bucketsAreWhole, pickSource, type SourceSpec } from './source.ts';

/** The narrow tables: minutes, and their exact hourly rollup (slices merged). */
export const MODEL_SOURCES: readonly SourceSpec[] = [
  { table: 'metric_windows', resolutionMs: 60_000, retentionMs: null },
  { table: 'metric_windows_hourly', resolutionMs: 3_600_000, retentionMs: null },
];

/** Whole hours from the hourly rollup, the minutes before the first and after the last from the minutes (metric-series-sql.ts). */
export const HOURS_AND_EDGES = 'metric_windows_edges';
const HOUR_MS = 3_600_000;

/**
 * The table a period reads: the coarsest source pickSource found, or — for a range off
 * whole hours whose buckets are whole hours (not MINUTE, the zone's offset whole hours)
 * and that holds at least one whole hour — the hours with their minute edges, which reads
 * ~60× fewer rows than the minutes and answers the same.
 */
function tableFor(picked: string, range: { from: number; to: number }, granularity: Granularity, timeZone: string): string {
  if (picked !== MODEL_SOURCES[0]!.table) return picked;
  const wholeHours = Math.floor(range.to / HOUR_MS) - Math.ceil(range.from / HOUR_MS);
  return wholeHours >= 1 && bucketsAreWhole(HOUR_MS, granularity, range, timeZone) ? HOURS_AND_EDGES : picked;
}

/** Slices a breakdown by a dimension other than currency lists at most (plus one `other`). */
export const DEFAULT_TOP = 10;
export const MAX_TOP = 100;

/** One query-side condition: the dimension's value is one of `in` and none of `notIn`. */
export interface DimensionCondition {
  dimension: string;
  in: readonly string[] | null;
  notIn: readonly string[] | null;
}

export interface ModelInputValues {
  metric: string;
  version: number | null;
  currency: string | null;
  where: readonly DimensionCondition[];
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  /** A breakdown: by this dimension, `top` slices (ignored for currency: every currency). */
  breakdown: { by: string; top: number | null } | null;
  compareTo: Comparison | null;
}

export interface ModelRequest {
  version: MetricVersion;
  where: readonly DimensionCondition[];
  /** The one currency the request is in, when it has one. */
  currency: string | null;
  from: number;
  to: number;
  granularity: Granularity;
  timeZone: string;
  table: string;
  /** `top` null: every value, ordered by value (currency). */
  breakdown: { by: string; top: number | null } | null;
  /** The comparison period, read from the same table as the period. */
  comparison: { period: Comparison; from: number; to: number } | null;
}

/** The model's currency dimension (of a field of type currency), if it has one. */
export const currencyDimension = (plan: ModelPlan): DimensionSpec | undefined => [...plan.dimensions.values()].find((d) => d.type === 'currency');

function checkDimension(v: MetricVersion, dimension: string, what: string): void {
  if (!v.by.includes(dimension)) {
    const can = v.by.length ? `it is stored by ${v.by.join(', ')}` : 'it is stored by no dimension';
    throw badInput(`${v.name} v${v.version} cannot be ${what} ${dimension}: ${can}${v.kind === 'formula' ? ' (the dimensions every operand has)' : ''}`);
  }
}

/** The conditions of the input, the currency shorthand turned into one (giving both is refused). */
function conditionsOf(plan: ModelPlan, r: ModelInputValues, v: MetricVersion): DimensionCondition[] {
  const cur = currencyDimension(plan);
  const where = [...r.where];
  if (r.currency !== null) {
    if (!cur) throw badInput(`model ${plan.name} has no currency dimension: use \`where\``);
    if (!/^[A-Z]{3}$/.test(r.currency)) throw badInput(`currency "${r.currency}" is not an ISO 4217 code`);
    if (where.some((c) => c.dimension === cur.name)) throw badInput(`give the currency either as \`currency\` or in \`where\`, not both`);
    where.push({ dimension: cur.name, in: [r.currency], notIn: null });
  }
  for (const c of where) {
    checkDimension(v, c.dimension, 'filtered by');
    if (c.in === null && c.notIn === null) throw badInput(`the filter on ${c.dimension} needs \`in\` or \`notIn\``);
  }
  return where;
}

/** Checks a request and picks its source; throws BAD_USER_INPUT errors that say how to fix it. */
export function prepareModelRequest(plan: ModelPlan, r: ModelInputValues, o: { now: number }): ModelRequest {
  const v = plan.metric(r.metric, r.version ?? undefined);
  if (!v) {
    const versions = plan.versions.filter((x) => x.name === r.metric).map((x) => x.version);
    throw badInput(`metric ${r.metric} has no version ${r.version} (versions: ${versions.join(', ') || 'none'})`);
  }
  const where = conditionsOf(plan, r, v);
  const cur = currencyDimension(plan);
  let breakdown = r.breakdown;
  if (breakdown) {
    checkDimension(v, breakdown.by, 'broken down by');
    const top = breakdown.top ?? DEFAULT_TOP;
    if (top < 1 || top > MAX_TOP) throw badInput(`top must be between 1 and ${MAX_TOP}`);
    breakdown = { by: breakdown.by, top: breakdown.by === cur?.name ? null : top };
  }
  const oneCurrency = cur ? where.find((c) => c.dimension === cur.name && c.in?.length === 1)?.in?.[0] ?? null : null;
  if (v.money && oneCurrency === null && !(cur && breakdown?.by === cur.name)) {
    throw badInput(
      `${v.name} is money: amounts in different currencies are never added together — give one currency (\`currency\`, or \`where\` ${cur?.name ?? 'currency'} in one value), or break it down by ${cur?.name ?? 'currency'}`,
    );
  }
  const timeZone = canonicalTimeZone(r.timeZone);
  if (timeZone === null) throw badInput(`timeZone "${r.timeZone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  const pick = pickSource({ from: r.from, to: r.to }, r.granularity, o.now, { timeZone, sources: MODEL_SOURCES });
  if (!pick.ok) throw badInput(pick.error);
  let table = tableFor(pick.source.table, r, r.granularity, timeZone);
  let comparison: ModelRequest['comparison'] = null;
  if (r.compareTo) {
    const range = comparisonRange(r, r.granularity, r.compareTo, timeZone);
    const cPick = pickSource(range, r.granularity, o.now, { timeZone, sources: MODEL_SOURCES });
    if (!cPick.ok) throw badInput(`comparison period: ${cPick.error}`);
    // The periods read one table: hours with edges serve any range the hourly rollup does; the minutes serve any bucket.
    const cTable = tableFor(cPick.source.table, range, r.granularity, timeZone);
    if (cTable !== table) {
      const hourly = [MODEL_SOURCES[1]!.table, HOURS_AND_EDGES];
      table = hourly.includes(table) && hourly.includes(cTable) ? HOURS_AND_EDGES : MODEL_SOURCES[0]!.table;
    }
    comparison = { period: r.compareTo, ...range };
  }
  return { version: v, where, currency: oneCurrency, from: r.from, to: r.to, granularity: r.granularity, timeZone, table, breakdown, comparison };
}
