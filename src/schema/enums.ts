import { GRANULARITIES } from '../contracts/metrics.ts';
import type { ModelPlan } from '../model/types.ts';
import { UPDATE_KINDS } from '../contracts/window.ts';
import { DERIVED_METRICS } from '../resolvers/derived.ts';
import { COMPARISONS } from '../resolvers/periods.ts';
import type { Builder } from './builder.ts';
import { modelMetricValues } from './model-enum.ts';

export function addEnums(builder: Builder, plan: ModelPlan) {
  const MetricEnum = builder.enumType('Metric', {
    description: `The metrics of model ${plan.name}: one value per metric name, upper-cased. Definitions: Query.metrics.`,
    values: modelMetricValues(plan),
  });

  const DerivedMetricEnum = builder.enumType('DerivedMetric', {
    description: 'Computed from exact stored values at read time. ARPU = REVENUE / ACTIVE_USERS (6 fractional digits, half-even); NET_USER_CHANGE = SIGNUPS − CHURNS.',
    values: DERIVED_METRICS,
  });

  const GranularityEnum = builder.enumType('Granularity', {
    description: 'Bucket size. HOUR, DAY, WEEK (ISO, starting Monday) and MONTH follow the series’ timeZone, DST included.',
    values: GRANULARITIES,
  });

  const ComparisonEnum = builder.enumType('ComparisonPeriod', {
    description:
      'PREVIOUS_PERIOD: the range of the same length right before `from` (same number of local days or months for DAY/WEEK/MONTH). PREVIOUS_YEAR: the same local dates one year earlier (29 Feb → 28 Feb).',
    values: COMPARISONS,
  });

  const UpdateKindEnum = builder.enumType('UpdateKind', {
    description: 'PARTIAL: window still open; FINAL: the watermark passed its end; CORRECTION: a late event changed a final window.',
    values: Object.fromEntries(UPDATE_KINDS.map((k) => [k.toUpperCase(), { value: k }])) as Record<'PARTIAL' | 'FINAL' | 'CORRECTION', { value: (typeof UPDATE_KINDS)[number] }>,
  });
  return { MetricEnum, DerivedMetricEnum, GranularityEnum, ComparisonEnum, UpdateKindEnum };
}
