/**
 * What every series input generated from the model shares: `ModelDimension` (the model's
 * dimensions), `DimensionFilter` (the query-side `where`), and the conversion of a GraphQL
 * input into the values prepareModelRequest checks.
 */
import type { FormulaAst, MetricVersion, ModelPlan } from '../model/types.ts';
import type { ModelInputValues } from '../resolvers/model-request.ts';
import type { Builder } from './builder.ts';

interface FilterInput {
  dimension: string;
  in?: string[] | null;
  notIn?: string[] | null;
}

/** A series input as GraphQL hands it over (optional fields may be null or missing). */
export interface RawModelInput {
  metric: string;
  version?: number | null;
  currency?: string | null;
  where?: FilterInput[] | null;
  from: number;
  to: number;
  granularity: ModelInputValues['granularity'];
  timeZone: string;
  compareTo?: ModelInputValues['compareTo'];
}

export const valuesOf = (input: RawModelInput, breakdown: ModelInputValues['breakdown']): ModelInputValues => ({
  metric: input.metric,
  version: input.version ?? null,
  currency: input.currency ?? null,
  where: (input.where ?? []).map((c) => ({ dimension: c.dimension, in: c.in ?? null, notIn: c.notIn ?? null })),
  from: input.from,
  to: input.to,
  granularity: input.granularity,
  timeZone: input.timeZone,
  breakdown,
  compareTo: input.compareTo ?? null,
});

/** `ModelDimension` and `DimensionFilter`; both null when the model has no dimensions. */
export function addDimensions(builder: Builder, plan: ModelPlan) {
  const dimensions = [...plan.dimensions.values()];
  if (dimensions.length === 0) return { DimensionEnum: null, DimensionFilter: null };
  const DimensionEnum = builder.enumType('ModelDimension', {
    description: `The dimensions of model ${plan.name}: a metric can be filtered and broken down by those in its \`by\`.`,
    values: Object.fromEntries(dimensions.map((d) => [d.name.toUpperCase(), { value: d.name, ...(d.description ? { description: d.description } : {}) }])),
  });
  const DimensionFilter = builder.inputType('DimensionFilter', {
    description: 'Keeps the stored values of one dimension that are in `in` (when given) and not in `notIn`. Filters are ANDed.',
    fields: (t) => ({
      dimension: t.field({ type: DimensionEnum, required: true }),
      in: t.stringList({ required: false }),
      notIn: t.stringList({ required: false }),
    }),
  });
  return { DimensionEnum, DimensionFilter };
}

/** Whether a value of `v` can be null: a formula dividing with onZeroDivision null, or over such an operand. */
function mayBeNull(plan: ModelPlan, v: MetricVersion): boolean {
  if (v.kind !== 'formula') return false;
  const visit = (n: FormulaAst): boolean => {
    if (n.type === 'number') return false;
    if (n.type === 'metric') {
      const o = plan.metric(n.name, n.version ?? undefined);
      return o !== undefined && mayBeNull(plan, o);
    }
    return (n.op === '/' && v.onZeroDivision === 'null') || visit(n.left) || visit(n.right);
  };
  return visit(v.pinned);
}

/** Whether some shown metric's values can be null (a division by zero, onZeroDivision: null): then Series values and totals are nullable. */
export const hasNullableValues = (plan: ModelPlan): boolean => plan.versions.some((v) => !v.hidden && mayBeNull(plan, v));
