/**
 * The values of the metric enums generated from the model (`Metric`, `ModelMetric`): one
 * per metric name whose current version is not hidden, the name upper-cased, resolving to
 * the model's name — so resolvers see `revenue`, clients send `REVENUE`.
 */
import type { ModelPlan } from '../model/types.ts';

export interface MetricEnumValue {
  /** The model's metric name. */
  value: string;
  description: string;
}

/** Enum values by GraphQL name (e.g. `REVENUE` → `revenue`), in the model's file order. */
export function modelMetricValues(plan: ModelPlan): Record<string, MetricEnumValue> {
  const shown = plan.names.map((n) => plan.metric(n)!).filter((v) => !v.hidden);
  return Object.fromEntries(shown.map((v) => [v.name.toUpperCase(), { value: v.name, description: `${v.description || v.name} (${v.unit})`.trim() }]));
}
