/**
 * The part of the schema generated from the metric model for its first clients:
 * `ModelMetric` (the values of `Metric`, model-enum.ts), `Query.metricSeries` and
 * `Query.metricBreakdown`. Values of the enums are the model's names upper-cased;
 * resolvers see the model's names.
 */
import type { EnumRef } from '@pothos/core';
import type { ModelPlan } from '../model/types.ts';
import type { ModelComparison, ModelSeries } from '../resolvers/model-series.ts';
import { prepareModelRequest, DEFAULT_TOP, MAX_TOP } from '../resolvers/model-request.ts';
import type { Builder, Types } from './builder.ts';
import { coverageFields } from './series-coverage.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';
import { modelMetricValues } from './model-enum.ts';
import { valuesOf, type addDimensions, type RawModelInput } from './model-input.ts';

/** MetricPoint, MetricComparison and MetricSeries. */
function addSeriesOutputs(builder: Builder, ModelMetricEnum: EnumRef<Types, string>, { ComparisonEnum, GranularityEnum }: ReturnType<typeof addEnums>, FreshnessRef: ReturnType<typeof addFreshness>) {
  const PointRef = builder.objectRef<ModelSeries['points'][number]>('MetricPoint').implement({
    fields: (t) => ({
      start: t.field({ type: 'DateTime', resolve: (p) => p.start }),
      value: t.field({ type: 'Decimal', nullable: true, description: 'null where a formula divides by zero (onZeroDivision: null).', resolve: (p) => p.value }),
      final: t.exposeBoolean('final', { description: 'True once the watermark passed the end of the bucket.' }),
    }),
  });

  const ComparisonRef = builder.objectRef<ModelComparison>('MetricComparison').implement({
    description: 'The same series over the comparison period; points line up with the current ones by index.',
    fields: (t) => ({
      period: t.field({ type: ComparisonEnum, resolve: (c) => c.period }),
      from: t.field({ type: 'DateTime', resolve: (c) => c.from }),
      to: t.field({ type: 'DateTime', resolve: (c) => c.to }),
      points: t.field({ type: [PointRef], resolve: (c) => c.points }),
      total: t.field({ type: 'Decimal', nullable: true, resolve: (c) => c.total }),
      change: t.field({ type: 'Decimal', nullable: true, description: 'total − comparison total, exact; null when either is null.', resolve: (c) => c.change }),
      changeRatio: t.field({ type: 'Decimal', nullable: true, description: 'change / comparison total (6 fractional digits, half-even); null when that total is 0 or null.', resolve: (c) => c.changeRatio }),
    }),
  });

  return builder.objectRef<ModelSeries>('MetricSeries').implement({
    description: 'A model metric over a range. A formula is evaluated per bucket and over the totals (a ratio of totals), in exact decimals.',
    fields: (t) => ({
      metric: t.field({ type: ModelMetricEnum, resolve: (s) => s.metric }),
      version: t.exposeInt('version'),
      unit: t.exposeString('unit'),
      currency: t.exposeString('currency', { nullable: true, description: 'The one currency of the series, when it has one.' }),
      slice: t.exposeString('slice', { nullable: true, description: 'In a breakdown: the dimension value ("other" for the folded slice).' }),
      other: t.exposeBoolean('other', { description: 'The slice of every value beyond the top N (and values stored as other).' }),
      granularity: t.field({ type: GranularityEnum, resolve: (s) => s.granularity }),
      timeZone: t.exposeString('timeZone'),
      from: t.field({ type: 'DateTime', resolve: (s) => s.from }),
      to: t.field({ type: 'DateTime', resolve: (s) => s.to }),
      points: t.field({ type: [PointRef], resolve: (s) => s.points }),
      total: t.field({ type: 'Decimal', nullable: true, description: 'Over the whole range (distinct users merged; a formula over the operands’ totals).', resolve: (s) => s.total }),
      ...coverageFields(t),
      freshness: t.field({ type: FreshnessRef, resolve: (s) => s.freshness }),
      comparison: t.field({ type: ComparisonRef, nullable: true, description: 'Present when the input asked for `compareTo`.', resolve: (s) => s.comparison }),
    }),
  });
}

export function addModel(
  builder: Builder,
  plan: ModelPlan,
  enums: ReturnType<typeof addEnums>,
  FreshnessRef: ReturnType<typeof addFreshness>,
  { DimensionEnum, DimensionFilter }: ReturnType<typeof addDimensions>,
) {
  const { ComparisonEnum, GranularityEnum } = enums;
  const ModelMetricEnum = builder.enumType('ModelMetric', {
    description: `The metrics of model ${plan.name} (Query.metricSeries, Query.metricBreakdown). Definitions: Query.metrics.`,
    values: modelMetricValues(plan),
  });
  const SeriesRef = addSeriesOutputs(builder, ModelMetricEnum, enums, FreshnessRef);

  const inputFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
    metric: t.field({ type: ModelMetricEnum, required: true }),
    version: t.int({ required: false, description: 'Omitted = the current (highest) version.' }),
    currency: t.string({ required: false, description: 'ISO 4217: shorthand for a `where` on the currency dimension (giving both is refused). Money needs one currency.' }),
    ...(DimensionFilter ? { where: t.field({ type: [DimensionFilter], required: false, description: 'Only dimensions the metric (every operand of a formula) stores.' }) } : {}),
    from: t.field({ type: 'DateTime', required: true, description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
    granularity: t.field({ type: GranularityEnum, required: true }),
    timeZone: t.string({ required: true, defaultValue: 'UTC', description: 'IANA zone for HOUR, DAY, WEEK and MONTH buckets.' }),
  });
  const SeriesInput = builder.inputType('MetricSeriesInput', {
    fields: (t) => ({
      ...inputFields(t),
      compareTo: t.field({ type: ComparisonEnum, required: false, description: 'Also answer the comparison period (counts as one more series against the per-request limit).' }),
    }),
  });

  builder.queryField('metricSeries', (t) =>
    t.field({
      type: SeriesRef,
      description: 'A model metric over a range, as `series` answers it, with nullable values (MetricSeries). In the one read of every series field of the request. Prefer `series`.',
      args: { input: t.arg({ type: SeriesInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        const loader = ctx.modelLoader();
        const request = prepareModelRequest(ctx.services.plan, valuesOf(input as RawModelInput, null), { now: ctx.services.clock() });
        ctx.chargeSeries(request.comparison ? 2 : 1);
        return (await loader.load(request))[0]!;
      },
    }),
  );

  if (!DimensionEnum) return;
  interface Breakdown {
    metric: string;
    version: number;
    by: string;
    slices: ModelSeries[];
    freshness: ModelSeries['freshness'];
  }
  const BreakdownRef = builder.objectRef<Breakdown>('MetricBreakdown').implement({
    description: 'A model metric split by one dimension: by currency every currency, ordered by code; by another dimension the top N values by total, then one `other` slice.',
    fields: (t) => ({
      metric: t.field({ type: ModelMetricEnum, resolve: (b) => b.metric }),
      version: t.exposeInt('version'),
      by: t.field({ type: DimensionEnum, resolve: (b) => b.by }),
      slices: t.field({ type: [SeriesRef], resolve: (b) => b.slices }),
      freshness: t.field({ type: FreshnessRef, resolve: (b) => b.freshness }),
    }),
  });
  const BreakdownInput = builder.inputType('MetricBreakdownInput', {
    fields: (t) => ({
      ...inputFields(t),
      by: t.field({ type: DimensionEnum, required: true }),
      top: t.int({ required: true, defaultValue: DEFAULT_TOP, description: `Slices before \`other\` (1–${MAX_TOP}); ignored for currency.` }),
    }),
  });
  builder.queryField('metricBreakdown', (t) =>
    t.field({
      type: BreakdownRef,
      description: 'A model metric by one dimension, as `breakdown` answers it (MetricSeries slices). In the one read of every series field of the request. Prefer `breakdown`.',
      args: { input: t.arg({ type: BreakdownInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        const loader = ctx.modelLoader();
        const request = prepareModelRequest(ctx.services.plan, valuesOf(input as RawModelInput, { by: input.by, top: input.top }), { now: ctx.services.clock() });
        ctx.chargeSeries(1);
        const slices = await loader.load(request);
        return { metric: request.version.name, version: request.version.version, by: input.by, slices, freshness: slices[0]?.freshness ?? ctx.services.freshness.of(ctx.principal!.tenantId) };
      },
    }),
  );
}
