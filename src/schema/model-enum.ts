/**
 * The values of the GraphQL enums generated from the model's metric names (`Metric`,
 * `ModelMetric`): one per metric whose current version is not hidden, the name upper-cased,
 * resolving to the model's name (resolvers see `gross_revenue`, clients send `GROSS_REVENUE`).
 */
import type { ModelPlan } from '../model/types.ts';

export function modelMetricValues(plan: ModelPlan): Record<string, { value: string; description: string }> {
  const shown = plan.names.filter((n) => !plan.metric(n)!.hidden);
  return Object.fromEntries(
    shown.map((n) => {
      const m = plan.metric(n)!;
      return [n.toUpperCase(), { value: n, description: `${m.description || n} (${m.unit})`.trim() }];
    }),
  );
}
