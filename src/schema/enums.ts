import { GRANULARITIES, METRICS } from '../contracts/metrics.ts';
import { UPDATE_KINDS } from '../contracts/window.ts';
import { builder } from './builder.ts';

export const MetricEnum = builder.enumType('Metric', {
  description: 'REVENUE sums purchase amounts of one currency; ACTIVE_USERS counts distinct users.',
  values: METRICS,
});

export const GranularityEnum = builder.enumType('Granularity', { values: GRANULARITIES });

export const UpdateKindEnum = builder.enumType('UpdateKind', {
  description: 'PARTIAL: window still open; FINAL: the watermark passed its end; CORRECTION: a late event changed a final window.',
  values: Object.fromEntries(UPDATE_KINDS.map((k) => [k.toUpperCase(), { value: k }])) as Record<'PARTIAL' | 'FINAL' | 'CORRECTION', { value: (typeof UPDATE_KINDS)[number] }>,
});
