import type { Freshness } from '../resolvers/freshness.ts';
import type { Series } from '../resolvers/series.ts';
import { prepareSeriesRequest, seriesCost } from '../resolvers/series.ts';
import { asksForTraceIds } from '../resolvers/selection.ts';
import type { Builder } from './builder.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';
import { toValues, type addSeries } from './series.ts';

interface Breakdown {
  /** The model's name (a `Metric` value). */
  metric: string;
  slices: Series[];
  freshness: Freshness;
}

export function addBreakdown(builder: Builder, enums: ReturnType<typeof addEnums>, FreshnessRef: ReturnType<typeof addFreshness>, { SeriesRef }: ReturnType<typeof addSeries>) {
  const { ComparisonEnum, GranularityEnum, MetricEnum } = enums;
  const BreakdownRef = builder.objectRef<Breakdown>('Breakdown').implement({
    description: 'One series per currency the tenant has data in over the range (or its comparison period).',
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, resolve: (b) => b.metric }),
      slices: t.field({ type: [SeriesRef], description: 'Ordered by currency code.', resolve: (b) => b.slices }),
      freshness: t.field({ type: FreshnessRef, resolve: (b) => b.freshness }),
    }),
  });

  const BreakdownInput = builder.inputType('BreakdownInput', {
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, required: true }),
      from: t.field({ type: 'DateTime', required: true, description: 'Inclusive.' }),
      to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
      granularity: t.field({ type: GranularityEnum, required: true }),
      timeZone: t.string({ required: true, defaultValue: 'UTC' }),
      compareTo: t.field({ type: ComparisonEnum, required: false }),
    }),
  });

  builder.queryField('breakdown', (t) =>
    t.field({
      type: BreakdownRef,
      description: 'A metric split by currency, e.g. revenue by currency. Read in the same single query as the other series of the request.',
      args: { input: t.arg({ type: BreakdownInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.seriesLoader();
        const request = prepareSeriesRequest(toValues({ ...input, currency: null }), { now: ctx.services.clock(), breakdown: true, traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        const slices = await loader.load(request);
        return { metric: input.metric, slices, freshness: slices[0]?.freshness ?? ctx.services.freshness.of(ctx.principal!.tenantId) };
      },
    }),
  );
}
