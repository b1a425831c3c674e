/**
 * Model metric series and breakdowns: a per-request DataLoader answers every
 * metricSeries and metricBreakdown of an operation — any mix of metrics, versions and
 * filters — with ONE ClickHouse read (src/storage/metric-series-reader.ts). A formula
 * reads its stored operands (formula operands resolved recursively, each with the
 * formula's own filter added) and is evaluated exactly per bucket and over the totals
 * (a ratio of totals, src/model/evaluate.ts).
 */
import DataLoader from 'dataloader';
import { toMicros } from '../contracts/decimal.ts';
import type { Granularity } from '../contracts/metrics.ts';
import { evaluateFormulaSeries, type OperandSeries } from '../model/evaluate.ts';
import { OTHER_VALUE, type FormulaVersion, type MeasureVersion, type MetricVersion, type ModelPlan } from '../model/types.ts';
import type { MetricResult, MetricSeriesReader } from '../storage/metric-series-reader.ts';
import { metricQueryKey, type MetricQuery } from '../storage/metric-series-sql.ts';
import { traceQueryKey, type TraceQuery } from '../storage/trace-samples.ts';
import { bucketsBetween, type Bucket } from './buckets.ts';
import { changeRatio, difference } from './derived.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';
import { currencyDimension, type DimensionCondition, type ModelRequest } from './model-request.ts';
import type { Comparison } from './periods.ts';
import { MAX_SERIES_PER_REQUEST } from './series.ts';

export interface ModelPoint {
  start: number;
  /** null where a formula divided by zero (onZeroDivision: null). */
  value: string | null;
  final: boolean;
  /** A sample of trace ids of the bucket's events, when the request asked for them and its filters allow (traceQueryOf). */
  traceIds: string[];
}

export interface ModelComparison {
  period: Comparison;
  from: number;
  to: number;
  points: ModelPoint[];
  total: string | null;
  /** total − comparison total; null when either is null. */
  change: string | null;
  /** change / comparison total; null when that total is 0 or null. */
  changeRatio: string | null;
}

export interface ModelSeries {
  metric: string;
  version: number;
  unit: string;
  currency: string | null;
  /** A breakdown's dimension value ('other' for the folded slice); null for a series. */
  slice: string | null;
  other: boolean;
  granularity: Granularity;
  timeZone: string;
  from: number;
  to: number;
  points: ModelPoint[];
  total: string | null;
  /** False while a stored version it reads is not yet backfilled over the range. */
  complete: boolean;
  /** The instant before which its points are not yet backfilled (zeros there are not data); null when complete. */
  incompleteBefore: number | null;
  freshness: Freshness;
  comparison: ModelComparison | null;
}

/** A request's tree: stored leaves become queries, formulas evaluate their operands. */
type Node = { kind: 'leaf'; measure: MeasureVersion; query: MetricQuery } | { kind: 'formula'; formula: FormulaVersion; operands: Map<string, Node> };

/** The formula's own (read-time) filter as query-side conditions on its dimensions. */
function formulaConditions(f: FormulaVersion): DimensionCondition[] {
  return f.where.map((c) => {
    if (c.op === 'in') return { dimension: c.key, in: c.values.map(String), notIn: null };
    if (c.op === 'not') return { dimension: c.key, in: null, notIn: c.values.map(String) };
    throw new Error(`${f.id}: a read-time filter on ${c.key} cannot be ${c.op}`);
  });
}

function treeOf(plan: ModelPlan, r: ModelRequest, v: MetricVersion, where: readonly DimensionCondition[], group: number, first: { leader: boolean }): Node {
  if (v.kind !== 'formula') {
    const breakdown = r.breakdown ? { index: v.by.indexOf(r.breakdown.by), top: r.breakdown.top, group, leader: first.leader } : null;
    first.leader = false;
    const filters = where.map((c) => ({ index: v.by.indexOf(c.dimension), in: c.in, notIn: c.notIn }));
    const query: MetricQuery = { table: r.table, from: r.from, to: r.to, granularity: r.granularity, timeZone: r.timeZone, metric: v.name, version: v.version, distinct: v.kind === 'distinct', filters, breakdown };
    return { kind: 'leaf', measure: v, query };
  }
  const inner = [...where, ...formulaConditions(v)];
  const operands = new Map<string, Node>();
  const visit = (n: FormulaVersion['pinned']): void => {
    if (n.type === 'binary') {
      visit(n.left);
      visit(n.right);
    } else if (n.type === 'metric') {
      const key = `${n.name}@${n.version}`;
      const operand = plan.metric(n.name, n.version ?? undefined);
      if (!operand) throw new Error(`${v.id}: operand ${key} is not in the model`);
      if (!operands.has(key)) operands.set(key, treeOf(plan, r, operand, inner, group, first));
    }
  };
  visit(v.pinned);
  return { kind: 'formula', formula: v, operands };
}

const leavesOf = (n: Node): Extract<Node, { kind: 'leaf' }>[] => (n.kind === 'leaf' ? [n] : [...n.operands.values()].flatMap(leavesOf));

interface Evaluated extends OperandSeries {
  points: (string | null)[];
  final: boolean[];
}

/** A node's values in one slice over the request's buckets. */
function evaluate(n: Node, slice: string, buckets: readonly Bucket[], resultOf: (q: MetricQuery) => MetricResult): Evaluated {
  if (n.kind === 'leaf') {
    const agg = resultOf(n.query).get(slice);
    const cells = buckets.map((b) => agg?.buckets.get(b.start));
    return { points: cells.map((c) => c?.value ?? '0'), final: cells.map((c) => c?.allFinal ?? true), total: agg?.total?.value ?? '0' };
  }
  const parts = new Map([...n.operands].map(([k, o]) => [k, evaluate(o, slice, buckets, resultOf)]));
  const r = evaluateFormulaSeries(n.formula.pinned, (o) => parts.get(`${o.name}@${o.version}`)!, n.formula.onZeroDivision);
  const all = [...parts.values()];
  return { ...r, final: buckets.map((_, i) => all.every((p) => p.final[i])) };
}

/**
 * A breakdown's slices: every currency by code (with data in the period or its comparison
 * period), else by the leader's total (largest first), `other` last.
 */
function slicesOf(tree: Node, previous: Node | null, r: ModelRequest, resultOf: (q: MetricQuery) => MetricResult): string[] {
  const leaves = leavesOf(tree);
  const keys = [...new Set(leaves.flatMap((l) => [...resultOf(l.query).keys()]))];
  if (r.breakdown?.top === null) return [...new Set([...keys, ...(previous ? leavesOf(previous) : []).flatMap((l) => [...resultOf(l.query).keys()])])].sort();
  const leader = resultOf(leaves.find((l) => l.query.breakdown?.leader)!.query);
  const score = (k: string) => toMicros(leader.get(k)?.total?.value ?? '0');
  const rank = (k: string) => (k === OTHER_VALUE ? 1 : 0);
  return keys.sort((a, b) => rank(a) - rank(b) || (score(a) === score(b) ? (a < b ? -1 : 1) : score(a) > score(b) ? -1 : 1));
}

/** Backfill state of a series: the latest `incompleteBefore` of the stored versions it reads (null = all complete). */
function backfillOf(tree: Node, coverage: ModelSeriesDeps['coverage'], from: number): { complete: boolean; incompleteBefore: number | null } {
  let before: number | null = null;
  for (const l of leavesOf(tree)) {
    const b = coverage.incompleteBefore(l.measure.id);
    if (b !== null && (before === null || b > before)) before = b;
  }
  return { complete: before === null || from >= before, incompleteBefore: before };
}

/**
 * The trace sample a request's points can carry: the engine's windows are per currency, so
 * only a filter on currency values (or a breakdown by currency) narrows them; a request
 * filtered or broken down by another dimension, or excluding currencies, gets none.
 */
function traceQueryOf(plan: ModelPlan, r: ModelRequest, range: { from: number; to: number }): TraceQuery | null {
  if (!r.traces) return null;
  const cur = currencyDimension(plan)?.name;
  if (r.breakdown && r.breakdown.by !== cur) return null;
  let currencies: string[] | null = null;
  for (const c of r.where) {
    if (c.dimension !== cur || c.notIn !== null || c.in === null) return null;
    currencies = currencies === null ? [...c.in] : currencies.filter((x) => c.in!.includes(x));
  }
  return { ...range, granularity: r.granularity, timeZone: r.timeZone, currencies: currencies?.sort() ?? null, byCurrency: r.breakdown !== null };
}

interface ModelSeriesDeps {
  plan: ModelPlan;
  reader: MetricSeriesReader;
  freshness: FreshnessTracker;
  coverage: { incompleteBefore(id: string): number | null };
  tenantId: string;
}

/** A fresh loader per request and tenant: every model series and breakdown of the operation in one read. */
export function createModelSeriesLoader(deps: ModelSeriesDeps) {
  return new DataLoader<ModelRequest, ModelSeries[], string>(
    async (requests) => {
      // Groups (a breakdown's shared ranking): 2i for request i's period, 2i + 1 for its comparison period.
      const trees = requests.map((r, i) => treeOf(deps.plan, r, r.version, r.where, 2 * i, { leader: true }));
      const previous = requests.map((r, i) => (r.comparison ? treeOf(deps.plan, { ...r, ...r.comparison }, r.version, r.where, 2 * i + 1, { leader: true }) : null));
      const queries = new Map<string, MetricQuery>();
      for (const tree of [...trees, ...previous]) for (const l of tree ? leavesOf(tree) : []) queries.set(metricQueryKey(l.query), l.query);
      const list = [...queries.values()];
      const traceQueries = new Map<string, TraceQuery>();
      for (const r of requests) {
        for (const range of [r, r.comparison]) {
          const t = range && traceQueryOf(deps.plan, r, range);
          if (t) traceQueries.set(traceQueryKey(t), t);
        }
      }
      const traceList = [...traceQueries.values()];
      const read = await deps.reader.read(deps.tenantId, list, { traces: traceList });
      const byKey = new Map(list.map((q, i) => [metricQueryKey(q), read.results[i]!]));
      const resultOf = (q: MetricQuery) => byKey.get(metricQueryKey(q))!;
      const tracesByKey = new Map(traceList.map((t, i) => [traceQueryKey(t), read.traces[i]!]));
      const tracesOf = (r: ModelRequest, range: { from: number; to: number }, slice: string): Map<number, string[]> | undefined => {
        const t = traceQueryOf(deps.plan, r, range);
        return t ? tracesByKey.get(traceQueryKey(t))?.get(t.byCurrency ? slice : '') : undefined;
      };
      const freshness = deps.freshness.of(deps.tenantId);
      const watermark = deps.freshness.watermark();
      // The buckets of a range, once per batch (the tiles of a dashboard share them).
      const bucketMemo = new Map<string, Bucket[]>();
      const bucketsOf = (range: { from: number; to: number }, r: ModelRequest): Bucket[] => {
        const k = `${range.from}|${range.to}|${r.granularity}|${r.timeZone}`;
        let b = bucketMemo.get(k);
        if (!b) bucketMemo.set(k, (b = bucketsBetween(range.from, range.to, r.granularity, r.timeZone)));
        return b;
      };
      const pointsOf = (tree: Node, range: { from: number; to: number }, r: ModelRequest, slice: string) => {
        const buckets = bucketsOf(range, r);
        const e = evaluate(tree, slice, buckets, resultOf);
        const traces = tracesOf(r, range, slice);
        return {
          points: buckets.map((b, k) => ({ start: b.start, value: e.points[k] ?? null, final: b.end <= watermark && e.final[k]!, traceIds: traces?.get(b.start) ?? [] })),
          total: e.total,
        };
      };
      const comparisonOf = (r: ModelRequest, tree: Node | null, slice: string, total: string | null): ModelComparison | null => {
        if (!tree || !r.comparison) return null;
        const then = pointsOf(tree, r.comparison, r, slice);
        const both = total !== null && then.total !== null;
        return { ...r.comparison, ...then, change: both ? difference(total, then.total!) : null, changeRatio: both ? changeRatio(total, then.total!) : null };
      };
      return requests.map((r, i) => {
        const v = r.version;
        const build = (slice: string): ModelSeries => {
          const now = pointsOf(trees[i]!, r, r, slice);
          const byCurrency = r.breakdown?.top === null;
          return {
            metric: v.name,
            version: v.version,
            unit: v.unit,
            currency: byCurrency ? slice : r.currency,
            slice: r.breakdown ? (slice === OTHER_VALUE ? 'other' : slice) : null,
            other: slice === OTHER_VALUE,
            granularity: r.granularity,
            timeZone: r.timeZone,
            from: r.from,
            to: r.to,
            ...now,
            ...backfillOf(trees[i]!, deps.coverage, r.from),
            freshness,
            comparison: comparisonOf(r, previous[i]!, slice, now.total),
          };
        };
        return r.breakdown ? slicesOf(trees[i]!, previous[i]!, r, resultOf).map(build) : [build('')];
      });
    },
    // Requests are compared by what they read (the plan's version objects are shared).
    { cacheKeyFn: (r) => JSON.stringify({ ...r, version: r.version.id }), maxBatchSize: 2 * MAX_SERIES_PER_REQUEST },
  );
}
