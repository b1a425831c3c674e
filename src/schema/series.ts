/**
 * Query.series and Query.derivedSeries with their types (Series, DerivedSeries, Point,
 * Comparison): model series (src/resolvers/model-series.ts) under the names existing
 * clients use. Values and totals are non-null unless a shown formula of the model divides
 * to null (onZeroDivision: null); the default model's are non-null.
 */
import type { ModelPlan } from '../model/types.ts';
import type { ModelComparison, ModelPoint, ModelSeries } from '../resolvers/model-series.ts';
import { derivedMetricName, prepareSeriesRequest, seriesCost } from '../resolvers/series.ts';
import { asksForTraceIds } from '../resolvers/selection.ts';
import type { Builder, Types } from './builder.ts';
import { coverageFields } from './series-coverage.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';
import { hasNullableValues, valuesOf, type addDimensions, type RawModelInput } from './model-input.ts';

/** A non-null Decimal where the model never divides to null (then the value is never null). */
const decimal = (v: string | null): string => v ?? '0';

/** Point and Comparison. */
function addPoints(builder: Builder, plan: ModelPlan, { ComparisonEnum }: ReturnType<typeof addEnums>) {
  const nullable = hasNullableValues(plan);
  const onZero = nullable ? ' (null where a formula divides by zero)' : '';
  const PointRef = builder.objectRef<ModelPoint>('Point').implement({
    fields: (t) => ({
      start: t.field({ type: 'DateTime', resolve: (p) => p.start }),
      value: nullable
        ? t.field({ type: 'Decimal', nullable: true, description: `The bucket's value${onZero}.`, resolve: (p) => p.value })
        : t.field({ type: 'Decimal', resolve: (p) => decimal(p.value) }),
      final: t.exposeBoolean('final', { description: 'True once the watermark passed the end of the bucket.' }),
      traceIds: t.exposeStringList('traceIds', {
        description: 'A sample of W3C trace ids of events in this bucket (of its currency; empty for a series filtered or broken down by another dimension).',
      }),
    }),
  });
  const ComparisonRef = builder.objectRef<ModelComparison>('Comparison').implement({
    description: 'The same series over the comparison period; points line up with the current ones by index.',
    fields: (t) => ({
      period: t.field({ type: ComparisonEnum, resolve: (c) => c.period }),
      from: t.field({ type: 'DateTime', resolve: (c) => c.from }),
      to: t.field({ type: 'DateTime', resolve: (c) => c.to }),
      points: t.field({ type: [PointRef], resolve: (c) => c.points }),
      total: nullable ? t.field({ type: 'Decimal', nullable: true, resolve: (c) => c.total }) : t.field({ type: 'Decimal', resolve: (c) => decimal(c.total) }),
      change: nullable
        ? t.field({ type: 'Decimal', nullable: true, description: 'total − comparison total, exact; null when either is null.', resolve: (c) => c.change })
        : t.field({ type: 'Decimal', description: 'total − comparison total, exact.', resolve: (c) => decimal(c.change) }),
      changeRatio: t.field({
        type: 'Decimal',
        nullable: true,
        description: 'change / comparison total (6 fractional digits, half-even); null when the comparison total is 0.',
        resolve: (c) => c.changeRatio,
      }),
    }),
  });
  return { PointRef, ComparisonRef, nullable };
}

/** Series, DerivedSeries, Query.series and Query.derivedSeries; `SeriesRef` is also a breakdown's slice. */
export function addSeries(builder: Builder, plan: ModelPlan, enums: ReturnType<typeof addEnums>, FreshnessRef: ReturnType<typeof addFreshness>, { DimensionFilter }: ReturnType<typeof addDimensions>) {
  const { ComparisonEnum, DerivedMetricEnum, GranularityEnum, MetricEnum } = enums;
  const { PointRef, ComparisonRef, nullable } = addPoints(builder, plan, enums);

  /** Fields every series type shares; `metric` differs by type. */
  const sharedFields = (t: PothosSchemaTypes.ObjectFieldBuilder<Types, ModelSeries>) => ({
    version: t.exposeInt('version'),
    currency: t.exposeString('currency', { nullable: true }),
    slice: t.exposeString('slice', { nullable: true, description: 'In a breakdown: the dimension value ("other" for the folded slice).' }),
    other: t.exposeBoolean('other', { description: 'In a breakdown: the slice of every value beyond the top N (and values stored as other).' }),
    granularity: t.field({ type: GranularityEnum, resolve: (s) => s.granularity }),
    timeZone: t.exposeString('timeZone'),
    from: t.field({ type: 'DateTime', resolve: (s) => s.from }),
    to: t.field({ type: 'DateTime', resolve: (s) => s.to }),
    points: t.field({ type: [PointRef], resolve: (s) => s.points }),
    total: nullable
      ? t.field({ type: 'Decimal', nullable: true, description: 'Over the whole range (distinct users merged; a formula over the operands’ totals).', resolve: (s) => s.total })
      : t.field({ type: 'Decimal', description: 'Over the whole range (distinct users are merged, not summed; a formula over the operands’ totals).', resolve: (s) => decimal(s.total) }),
    ...coverageFields(t),
    freshness: t.field({ type: FreshnessRef, resolve: (s) => s.freshness }),
    comparison: t.field({ type: ComparisonRef, nullable: true, description: 'Present when the input asked for `compareTo`.', resolve: (s) => s.comparison }),
  });

  const SeriesRef = builder.objectRef<ModelSeries>('Series').implement({
    description: 'A metric over a range. A formula is evaluated per bucket and over the totals (a ratio of totals), in exact decimals.',
    fields: (t) => ({ metric: t.field({ type: MetricEnum, resolve: (s) => s.metric }), ...sharedFields(t) }),
  });

  const DerivedSeriesRef = builder.objectRef<ModelSeries>('DerivedSeries').implement({
    description: 'A derived metric (a formula of the model) over a range, computed from the exact stored values of the same buckets.',
    fields: (t) => ({ metric: t.field({ type: DerivedMetricEnum, resolve: (s) => s.metric.toUpperCase() as 'ARPU' }), ...sharedFields(t) }),
  });

  /** Input fields every series input shares; `metric` differs by input. */
  const rangeFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
    from: t.field({ type: 'DateTime', required: true, description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
    granularity: t.field({ type: GranularityEnum, required: true }),
    timeZone: t.string({ required: true, defaultValue: 'UTC', description: 'IANA zone for HOUR, DAY, WEEK and MONTH buckets.' }),
    compareTo: t.field({ type: ComparisonEnum, required: false, description: 'Also answer the comparison period (counts as one more series against the per-request limit).' }),
  });
  /** `version` and `where` of series inputs (where: only when the model has dimensions). */
  const modelFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
    version: t.int({ required: false, description: 'Omitted = the current (highest) version.' }),
    ...(DimensionFilter ? { where: t.field({ type: [DimensionFilter], required: false, description: 'Only dimensions the metric (every operand of a formula) stores.' }) } : {}),
  });

  const SeriesInput = builder.inputType('SeriesInput', {
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, required: true }),
      currency: t.string({ required: false, description: 'ISO 4217: shorthand for a `where` on the currency dimension (giving both is refused); required for money (REVENUE); omitted = all currencies.' }),
      ...modelFields(t),
      ...rangeFields(t),
    }),
  });

  const DerivedSeriesInput = builder.inputType('DerivedSeriesInput', {
    fields: (t) => ({
      metric: t.field({ type: DerivedMetricEnum, required: true }),
      currency: t.string({ required: false, description: 'ISO 4217; required for ARPU; omitted = all currencies.' }),
      ...rangeFields(t),
    }),
  });

  builder.queryField('series', (t) =>
    t.field({
      type: SeriesRef,
      description: 'One metric over a range. Every series, derived series, breakdown, metricSeries and metricBreakdown of one request is read from ClickHouse at once.',
      args: { input: t.arg({ type: SeriesInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.modelLoader();
        const request = prepareSeriesRequest(ctx.services.plan, valuesOf(input as RawModelInput, null), { now: ctx.services.clock(), traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        return (await loader.load(request))[0]!;
      },
    }),
  );

  builder.queryField('derivedSeries', (t) =>
    t.field({
      type: DerivedSeriesRef,
      description: 'A derived metric (ARPU, NET_USER_CHANGE: the formulas arpu and net_user_change of the model) over a range, in the same single read as the other series.',
      args: { input: t.arg({ type: DerivedSeriesInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.modelLoader();
        const plan = ctx.services.plan;
        const values = valuesOf({ ...input, metric: derivedMetricName(plan, input.metric) }, null);
        const request = prepareSeriesRequest(plan, values, { now: ctx.services.clock(), traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        return (await loader.load(request))[0]!;
      },
    }),
  );
  return { SeriesRef, rangeFields, modelFields };
}
