import type { Point, Series } from '../resolvers/series.ts';
import { validateSeriesRequest } from '../resolvers/series.ts';
import { builder } from './builder.ts';
import { GranularityEnum, MetricEnum } from './enums.ts';
import { FreshnessRef } from './freshness.ts';
import './scalars.ts';

const PointRef = builder.objectRef<Point>('Point').implement({
  fields: (t) => ({
    start: t.field({ type: 'DateTime', resolve: (p) => p.start }),
    value: t.field({ type: 'Decimal', resolve: (p) => p.value }),
    final: t.exposeBoolean('final', { description: 'True once the watermark passed the end of the bucket.' }),
    traceIds: t.exposeStringList('traceIds', { description: 'A sample of W3C trace ids of events in this bucket.' }),
  }),
});

const SeriesRef = builder.objectRef<Series>('Series').implement({
  fields: (t) => ({
    metric: t.field({ type: MetricEnum, resolve: (s) => s.metric }),
    currency: t.exposeString('currency', { nullable: true }),
    granularity: t.field({ type: GranularityEnum, resolve: (s) => s.granularity }),
    timeZone: t.exposeString('timeZone'),
    points: t.field({ type: [PointRef], resolve: (s) => s.points }),
    total: t.field({ type: 'Decimal', description: 'Over the whole range (distinct users are merged, not summed).', resolve: (s) => s.total }),
    freshness: t.field({ type: FreshnessRef, resolve: (s) => s.freshness }),
  }),
});

const SeriesInput = builder.inputType('SeriesInput', {
  fields: (t) => ({
    metric: t.field({ type: MetricEnum, required: true }),
    currency: t.string({ required: false, description: 'ISO 4217; required for REVENUE; omitted = all currencies.' }),
    from: t.field({ type: 'DateTime', required: true, description: 'Inclusive.' }),
    to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
    granularity: t.field({ type: GranularityEnum, required: true }),
    timeZone: t.string({ required: true, defaultValue: 'UTC', description: 'IANA zone for HOUR and DAY buckets.' }),
  }),
});

builder.queryField('series', (t) =>
  t.field({
    type: SeriesRef,
    description: 'One metric over a range. Many aliased series in one request are read from ClickHouse at once.',
    args: { input: t.arg({ type: SeriesInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const request = {
        metric: input.metric,
        currency: input.currency ?? null,
        from: input.from,
        to: input.to,
        granularity: input.granularity,
        timeZone: input.timeZone,
      };
      const loader = ctx.seriesLoader();
      validateSeriesRequest(request);
      return loader.load(request);
    },
  }),
);
