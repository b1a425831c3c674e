import { GraphQLError } from 'graphql';
import { METRICS } from '../contracts/metrics.ts';
import { DERIVED_METRICS, type DerivedMetric, type SeriesMetric } from '../resolvers/derived.ts';
import type { ComparisonSeries, Point, Series, SeriesInputValues } from '../resolvers/series.ts';
import { prepareSeriesRequest, seriesCost } from '../resolvers/series.ts';
import { asksForTraceIds } from '../resolvers/selection.ts';
import type { Builder, Types } from './builder.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';

interface RawInput {
  /** A `Metric` value (the model's name, e.g. `revenue`) or a `DerivedMetric` (`ARPU`). */
  metric: string;
  currency?: string | null;
  from: number;
  to: number;
  granularity: SeriesInputValues['granularity'];
  timeZone: string;
  compareTo?: SeriesInputValues['compareTo'] | null;
}
/**
 * The wide windows' metric of a `Metric` or `DerivedMetric` value: the default model's
 * names upper-cased (`revenue` → REVENUE, `arpu` → ARPU); any other model metric is
 * served by Query.metricSeries.
 */
export function wideMetricOf(metric: string): SeriesMetric {
  const upper = metric.toUpperCase();
  if ((METRICS as readonly string[]).includes(upper) || (DERIVED_METRICS as readonly string[]).includes(upper)) return upper as SeriesMetric;
  throw new GraphQLError(`Metric ${upper} is not one of the built-in window metrics (${[...METRICS, ...DERIVED_METRICS].join(', ')}): query it with Query.metricSeries`, {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}

export const toValues = (input: RawInput): SeriesInputValues => ({
  metric: wideMetricOf(input.metric),
  currency: input.currency ?? null,
  from: input.from,
  to: input.to,
  granularity: input.granularity,
  timeZone: input.timeZone,
  compareTo: input.compareTo ?? null,
});

/** Series, derived series and their inputs; `rangeFields` is shared with the model's series inputs. */
export function addSeries(builder: Builder, enums: ReturnType<typeof addEnums>, FreshnessRef: ReturnType<typeof addFreshness>) {
  const { ComparisonEnum, DerivedMetricEnum, GranularityEnum, MetricEnum } = enums;
  const PointRef = builder.objectRef<Point>('Point').implement({
    fields: (t) => ({
      start: t.field({ type: 'DateTime', resolve: (p) => p.start }),
      value: t.field({ type: 'Decimal', resolve: (p) => p.value }),
      final: t.exposeBoolean('final', { description: 'True once the watermark passed the end of the bucket.' }),
      traceIds: t.exposeStringList('traceIds', { description: 'A sample of W3C trace ids of events in this bucket.' }),
    }),
  });

  const ComparisonRef = builder.objectRef<ComparisonSeries>('Comparison').implement({
    description: 'The same series over the comparison period; points line up with the current ones by index.',
    fields: (t) => ({
      period: t.field({ type: ComparisonEnum, resolve: (c) => c.period }),
      from: t.field({ type: 'DateTime', resolve: (c) => c.from }),
      to: t.field({ type: 'DateTime', resolve: (c) => c.to }),
      points: t.field({ type: [PointRef], resolve: (c) => c.points }),
      total: t.field({ type: 'Decimal', resolve: (c) => c.total }),
      change: t.field({ type: 'Decimal', description: 'total − comparison total, exact.', resolve: (c) => c.change }),
      changeRatio: t.field({
        type: 'Decimal',
        nullable: true,
        description: 'change / comparison total (6 fractional digits, half-even); null when the comparison total is 0.',
        resolve: (c) => c.changeRatio,
      }),
    }),
  });

  /** Fields every series type shares; `metric` differs by type. */
  const sharedFields = (t: PothosSchemaTypes.ObjectFieldBuilder<Types, Series>) => ({
    currency: t.exposeString('currency', { nullable: true }),
    granularity: t.field({ type: GranularityEnum, resolve: (s) => s.granularity }),
    timeZone: t.exposeString('timeZone'),
    from: t.field({ type: 'DateTime', resolve: (s) => s.from }),
    to: t.field({ type: 'DateTime', resolve: (s) => s.to }),
    points: t.field({ type: [PointRef], resolve: (s) => s.points }),
    total: t.field({ type: 'Decimal', description: 'Over the whole range (distinct users are merged, not summed).', resolve: (s) => s.total }),
    freshness: t.field({ type: FreshnessRef, resolve: (s) => s.freshness }),
    comparison: t.field({ type: ComparisonRef, nullable: true, description: 'Present when the input asked for `compareTo`.', resolve: (s) => s.comparison }),
  });

  const SeriesRef = builder.objectRef<Series>('Series').implement({
    fields: (t) => ({ metric: t.field({ type: MetricEnum, resolve: (s) => s.metric.toLowerCase() }), ...sharedFields(t) }),
  });

  const DerivedSeriesRef = builder.objectRef<Series>('DerivedSeries').implement({
    description: 'A derived metric over a range, computed from the exact stored values of the same buckets.',
    fields: (t) => ({ metric: t.field({ type: DerivedMetricEnum, resolve: (s) => s.metric as DerivedMetric }), ...sharedFields(t) }),
  });

  /** Input fields every series input shares; `metric` differs by input. */
  const rangeFields = (t: PothosSchemaTypes.InputFieldBuilder<Types, 'InputObject'>) => ({
    from: t.field({ type: 'DateTime', required: true, description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
    granularity: t.field({ type: GranularityEnum, required: true }),
    timeZone: t.string({ required: true, defaultValue: 'UTC', description: 'IANA zone for HOUR, DAY, WEEK and MONTH buckets.' }),
    compareTo: t.field({ type: ComparisonEnum, required: false, description: 'Also answer the comparison period (counts as one more series against the per-request limit).' }),
  });

  const SeriesInput = builder.inputType('SeriesInput', {
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, required: true }),
      currency: t.string({ required: false, description: 'ISO 4217; required for REVENUE; omitted = all currencies.' }),
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
      description: 'One metric over a range. Every series, derived series and breakdown of one request is read from ClickHouse at once.',
      args: { input: t.arg({ type: SeriesInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.seriesLoader();
        const request = prepareSeriesRequest(toValues(input), { now: ctx.services.clock(), traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        return (await loader.load(request))[0]!;
      },
    }),
  );

  builder.queryField('derivedSeries', (t) =>
    t.field({
      type: DerivedSeriesRef,
      description: 'A derived metric (ARPU, NET_USER_CHANGE) over a range, in the same single read as the other series.',
      args: { input: t.arg({ type: DerivedSeriesInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.seriesLoader();
        const request = prepareSeriesRequest(toValues(input), { now: ctx.services.clock(), traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        return (await loader.load(request))[0]!;
      },
    }),
  );
  return { PointRef, SeriesRef, rangeFields };
}
