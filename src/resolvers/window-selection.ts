/**
 * What a `windows` subscription asks for, checked against the model before it opens: the
 * metric versions (targets), the stored metrics their values come from (leaves), and the
 * filter. Errors are BAD_USER_INPUT and say how to fix the request.
 *
 * A target whose `by` has the currency dimension is sent per base window (tenant ×
 * currency × minute), from the window's own cells. One whose `by` lacks it is a value of
 * the whole minute (every currency's window merged, from storage: `crossCurrency`).
 * A formula is evaluated per slice of its `by` from its leaves' cells; a distinct leaf
 * must be stored by exactly the formula's `by` (distinct counts of several slices cannot
 * be added), and money must stay in one currency.
 */
import type { FormulaAst, MeasureVersion, MetricVersion, ModelPlan } from '../model/types.ts';
import { currencyDimension, type DimensionCondition } from './model-request.ts';
import { badInput } from './series.ts';

export interface Target {
  /** `name@version`. */
  id: string;
  v: MetricVersion;
  /** A value of the whole minute, every currency merged (its `by` lacks currency). */
  crossCurrency: boolean;
  /** The stored metrics it is computed from (itself for a stored metric). */
  leaves: readonly MeasureVersion[];
  /** Per condition of the selection, the position of its dimension in `v.by`. */
  conditionAt: readonly number[];
}

export interface WindowSelection {
  /** Equal for subscriptions asking the same: they share the values built per window. */
  key: string;
  targets: readonly Target[];
  /** The base windows' currency it wants (the `currency` argument); null: every one. */
  currency: string | null;
  where: readonly DimensionCondition[];
}

export interface SelectionArgs {
  /** Model names; empty: every stored (not formula) metric of the model the filter applies to. */
  metrics: readonly string[];
  version: number | null;
  currency: string | null;
  where: readonly DimensionCondition[];
}

/** The stored metrics `v` is computed from, each once. */
export function leavesOf(plan: ModelPlan, v: MetricVersion, out = new Map<string, MeasureVersion>()): MeasureVersion[] {
  if (v.kind !== 'formula') {
    out.set(v.id, v);
    return [...out.values()];
  }
  const walk = (n: FormulaAst): void => {
    if (n.type === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.type === 'metric') {
      const operand = plan.metric(n.name, n.version ?? undefined);
      if (operand) leavesOf(plan, operand, out);
    }
  };
  walk(v.pinned);
  return [...out.values()];
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** Why `v` cannot be sent live with these conditions, or null when it can. */
function refusal(plan: ModelPlan, v: MetricVersion, where: readonly DimensionCondition[]): string | null {
  const cur = currencyDimension(plan)?.name;
  for (const c of where) {
    if (!v.by.includes(c.dimension)) return `${v.name} v${v.version} cannot be filtered by ${c.dimension}: it is stored by ${v.by.join(', ') || 'no dimension'}`;
  }
  if (v.kind !== 'formula') return null;
  if (v.money && (!cur || !v.by.includes(cur))) return `${v.name} v${v.version} is money but not kept per currency, so it cannot be live`;
  for (const leaf of leavesOf(plan, v)) {
    if (leaf.kind === 'distinct' && !sameSet(leaf.by, v.by)) {
      return `${v.name} v${v.version} cannot be live: its operand ${leaf.id} counts distinct values by ${leaf.by.join(', ')}, which cannot be added up to the formula's ${v.by.join(', ') || 'total'} per window; query it with Query.metricSeries`;
    }
  }
  return null;
}

export function prepareWindowSelection(plan: ModelPlan, a: SelectionArgs): WindowSelection {
  const cur = currencyDimension(plan)?.name;
  const where = [...a.where];
  for (const c of where) {
    if (!plan.dimensions.has(c.dimension)) throw badInput(`model ${plan.name} has no dimension ${c.dimension}`);
    if (c.in === null && c.notIn === null) throw badInput(`the filter on ${c.dimension} needs \`in\` or \`notIn\``);
  }
  if (a.currency !== null) {
    if (!/^[A-Z]{3}$/.test(a.currency)) throw badInput(`currency "${a.currency}" is not an ISO 4217 code`);
    if (cur && where.some((c) => c.dimension === cur)) throw badInput('give the currency either as `currency` or in `where`, not both');
  }
  // `currency` picks base windows; as a condition it also keeps a metric that lacks the dimension out.
  const checked = a.currency !== null && cur ? [...where, { dimension: cur, in: [a.currency], notIn: null }] : where;
  const named = a.metrics.length > 0;
  const versions: MetricVersion[] = [];
  // Omitted: the stored metrics (formulas are asked for by name, as before the model had them in `Metric`).
  const every = plan.names.filter((n) => !plan.metric(n)!.hidden && plan.metric(n)!.kind !== 'formula');
  for (const name of named ? [...new Set(a.metrics)] : every) {
    const v = plan.metric(name, a.version ?? undefined);
    if (!v) {
      if (!named) continue;
      const known = plan.versions.filter((x) => x.name === name).map((x) => x.version);
      throw badInput(`metric ${name} has no version ${a.version} (versions: ${known.join(', ') || 'none'})`);
    }
    const why = refusal(plan, v, checked);
    if (why === null) versions.push(v);
    else if (named) throw badInput(why);
  }
  if (versions.length === 0) throw badInput('no metric of the model can be sent live with this filter');
  const targets = versions.map((v) => ({
    id: v.id,
    v,
    crossCurrency: !cur || !v.by.includes(cur),
    leaves: leavesOf(plan, v),
    conditionAt: where.map((c) => v.by.indexOf(c.dimension)),
  }));
  const key = JSON.stringify([targets.map((t) => t.id), a.currency, where]);
  return { key, targets, currency: a.currency, where };
}

/** Whether stored dims of `t` (in `by` order) pass the selection's conditions. */
export function passes(s: WindowSelection, t: Target, dims: readonly string[]): boolean {
  for (let i = 0; i < s.where.length; i++) {
    const c = s.where[i]!;
    const value = dims[t.conditionAt[i]!] ?? '';
    if (c.in !== null && !c.in.includes(value)) return false;
    if (c.notIn !== null && c.notIn.includes(value)) return false;
  }
  return true;
}
