/**
 * The `MetricUpdate`s of one target (a metric version of a subscription) from the cells of
 * one base window — or of one minute, currency slices merged — built once per bus message
 * (or storage row) and shared by every subscriber asking for it.
 *
 * A stored metric gives one update per cell (a combination of its `by` values). A formula
 * gives one per combination of its `by` values any leaf has, evaluated exactly
 * (src/model/evaluate.ts) from its leaves' cells summed onto its `by` (a missing cell is 0;
 * distinct leaves are stored by exactly the formula's `by`, window-selection.ts). A slice
 * whose formula divides by zero with `onZeroDivision: null` has no value and is not sent.
 */
import { fromMicros, toMicros } from '../contracts/decimal.ts';
import { METRICS } from '../contracts/metrics.ts';
import type { BusCell, UpdateKind, WindowUpdate } from '../contracts/window.ts';
import { evaluateFormula } from '../model/evaluate.ts';
import { OTHER_VALUE, type FormulaVersion, type MeasureVersion, type ModelPlan } from '../model/types.ts';
import type { Freshness } from './freshness.ts';
import type { Target } from './window-selection.ts';
import type { MetricUpdate } from './windows-stream.ts';

/** What every update of one window (or merged minute) shares. */
export interface WindowMeta {
  /** The base window's currency; '' for a merged minute. */
  currency: string;
  windowStart: number;
  windowEnd: number;
  revision: number;
  final: boolean;
  kind: UpdateKind;
  traceIds: string[];
  freshness: Freshness;
  replayed: boolean;
}

/** The name/value pairs of stored dims: '' (the event lacked the field) → null, the folded value → "other". */
export const dimensionsOf = (by: readonly string[], dims: readonly string[]) =>
  by.map((name, i) => {
    const stored = dims[i] ?? '';
    return { name, value: stored === '' ? null : stored === OTHER_VALUE ? 'other' : stored, other: stored === OTHER_VALUE };
  });

const SEP = '\u0000';

function update(t: Target, dims: readonly string[], value: string, meta: WindowMeta): MetricUpdate {
  return { ...meta, metric: t.v.name, version: t.v.version, dims, dimensions: dimensionsOf(t.v.by, dims), value };
}

/** Cells of `leaf` summed onto `by` (positions of `by` in the leaf's own `by`), in micro-units, by joined dims. */
function project(leaf: MeasureVersion, by: readonly string[], cells: readonly BusCell[]): Map<string, { dims: string[]; micros: bigint }> {
  const at = by.map((d) => leaf.by.indexOf(d));
  const out = new Map<string, { dims: string[]; micros: bigint }>();
  for (const c of cells) {
    if (c.metric !== leaf.name || c.version !== leaf.version) continue;
    const dims = at.map((i) => c.dims[i] ?? '');
    const key = dims.join(SEP);
    const slot = out.get(key);
    if (slot) slot.micros += toMicros(c.value);
    else out.set(key, { dims, micros: toMicros(c.value) });
  }
  return out;
}

/**
 * The one slice a window has for a target kept by currency alone (or by nothing): it is
 * sent with every window, 0 when nothing counted. Null for a target with other dimensions.
 */
function windowSlice(plan: ModelPlan, t: Target, meta: WindowMeta): string[] | null {
  return t.v.by.every((d) => plan.dimensions.get(d)?.type === 'currency') ? t.v.by.map(() => meta.currency) : null;
}

function formulaUpdates(plan: ModelPlan, t: Target & { v: FormulaVersion }, cells: readonly BusCell[], meta: WindowMeta): MetricUpdate[] {
  const sums = new Map(t.leaves.map((leaf) => [leaf.id, project(leaf, t.v.by, cells)]));
  const slices = new Map<string, string[]>();
  const own = windowSlice(plan, t, meta);
  if (own) slices.set(own.join(SEP), own);
  for (const m of sums.values()) for (const [key, s] of m) if (!slices.has(key)) slices.set(key, s.dims);
  const out: MetricUpdate[] = [];
  for (const [key, dims] of slices) {
    const valueOf = (o: { name: string; version: number | null }): string | null => {
      const v = plan.metric(o.name, o.version ?? undefined)!;
      if (v.kind === 'formula') return evaluateFormula(v.pinned, valueOf, v.onZeroDivision);
      const s = sums.get(v.id)?.get(key);
      return s ? fromMicros(s.micros) : '0';
    };
    const value = evaluateFormula(t.v.pinned, valueOf, t.v.onZeroDivision);
    if (value !== null) out.push(update(t, dims, value, meta));
  }
  return out;
}

/** The updates of target `t` from `cells` (every cell of its leaves in the window or minute). */
export function targetUpdates(plan: ModelPlan, t: Target, cells: readonly BusCell[], meta: WindowMeta): MetricUpdate[] {
  if (t.v.kind === 'formula') return formulaUpdates(plan, t as Target & { v: FormulaVersion }, cells, meta);
  const out: MetricUpdate[] = [];
  for (const c of cells) if (c.metric === t.v.name && c.version === t.v.version) out.push(update(t, c.dims, c.value, meta));
  const own = out.length === 0 ? windowSlice(plan, t, meta) : null;
  if (own) out.push(update(t, own, '0', meta));
  return out;
}

/**
 * The cells of a window from a publisher that predates the model (no `cells` on the
 * message, or a stored row without cells): its wide fields are the built-in metrics,
 * which the model's stored metrics of the same names, kept by currency alone, reproduce.
 */
export function legacyCells(plan: ModelPlan, u: Pick<WindowUpdate, 'currency' | 'revenue' | 'purchases' | 'signups' | 'upgrades' | 'churns' | 'activeUsers'>): BusCell[] {
  const wide: Record<(typeof METRICS)[number], string> = {
    REVENUE: u.revenue,
    PURCHASES: String(u.purchases),
    SIGNUPS: String(u.signups),
    UPGRADES: String(u.upgrades),
    CHURNS: String(u.churns),
    ACTIVE_USERS: String(u.activeUsers),
  };
  const out: BusCell[] = [];
  for (const m of plan.measures) {
    const value = wide[m.name.toUpperCase() as (typeof METRICS)[number]];
    if (value !== undefined && m.by.length === 1 && plan.dimensions.get(m.by[0]!)?.type === 'currency') out.push({ metric: m.name, version: m.version, dims: [u.currency], value });
  }
  return out;
}

export const windowMetaOf = (u: WindowUpdate, freshness: Freshness, replayed: boolean): WindowMeta => ({
  currency: u.currency,
  windowStart: u.windowStart,
  windowEnd: u.windowEnd,
  revision: u.revision,
  final: u.final,
  kind: u.kind,
  traceIds: u.traceSample,
  freshness,
  replayed,
});
