/**
 * Cardinality budgets of the non-currency dimensions (DESIGN.md "Cardinality budgets"): a
 * tenant's first `maxValuesPerTenant` distinct values of a dimension are kept — first come,
 * first kept, shared by every metric — and later values fold into OTHER_VALUE. Currency is
 * not folded here: over-budget currencies are rejected by the ingest budget step.
 *
 * Why a table (migrations/0012_dimension_values.sql) rather than deriving the kept set from
 * the event log: the set must be the same after a crash, a restore and for backfill, without
 * rereading the tenant's whole history. So a value is kept from the moment it is saved, and
 * the aggregator saves new kept values in each flush *before* it writes any cell that uses
 * them. A value kept in memory but not yet saved appears in no written cell; after a crash
 * the events logged since the last checkpoint are decided again in the order they arrived
 * (the log's `seq`, `pos`) before their windows are restored, and an event buffered for a
 * window not in memory is decided when it arrives, not when its window is rebuilt — so the
 * last places go to the values that came first. Sets only grow: a value folded once stays
 * folded.
 */
import type { ModelPlan } from '../model/types.ts';
import { OTHER_VALUE } from '../model/types.ts';
import type { KeptValueRow as KeptValue } from '../storage/dimension-values.ts';

const slot = (tenantId: string, dimension: string) => `${tenantId}\u0000${dimension}`;

export function createDimensionBudget(plan: ModelPlan) {
  const limits = new Map<string, number>();
  for (const d of plan.dimensions.values()) if (!d.rejectOverBudget) limits.set(d.name, d.maxValuesPerTenant);
  const kept = new Map<string, Set<string>>();
  let unsaved: KeptValue[] = [];

  const setOf = (tenantId: string, dimension: string): Set<string> => {
    const key = slot(tenantId, dimension);
    let set = kept.get(key);
    if (!set) kept.set(key, (set = new Set()));
    return set;
  };

  return {
    /** Whether values of `dimension` fold (it has a budget and is not rejected over it). */
    folds: (dimension: string): boolean => limits.has(dimension),

    /** The stored value of `value`: itself when kept (or now kept, while there is room), else OTHER_VALUE. */
    keep(tenantId: string, dimension: string, value: string): string {
      const set = setOf(tenantId, dimension);
      if (set.has(value)) return value;
      const limit = limits.get(dimension);
      if (limit === undefined) return value;
      if (set.size >= limit) return OTHER_VALUE;
      set.add(value);
      unsaved.push({ tenantId, dimension, value, position: set.size });
      return value;
    },

    /** Takes back saved values (in `position` order per tenant and dimension; extra rows past a budget are ignored). */
    seed(rows: readonly KeptValue[]): void {
      const ordered = [...rows].sort((a, b) => a.position - b.position || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      for (const r of ordered) {
        const set = setOf(r.tenantId, r.dimension);
        const limit = limits.get(r.dimension);
        if (limit !== undefined && set.size < limit) set.add(r.value);
      }
    },

    /** Kept values not saved yet, oldest first (a snapshot: call `saved` with it once it is stored). */
    unsaved: (): readonly KeptValue[] => [...unsaved],

    /** Marks a snapshot from `unsaved` as stored. */
    saved(rows: readonly KeptValue[]): void {
      const done = new Set(rows);
      unsaved = unsaved.filter((r) => !done.has(r));
    },
  };
}

export type DimensionBudget = ReturnType<typeof createDimensionBudget>;
