/**
 * Query.breakdown: a metric split by one of its `by` dimensions — by currency (the
 * default) every currency, ordered by code; by another dimension the top N values by
 * total, then one `other` slice — read in the same single query as the other series.
 */
import type { ModelPlan } from '../model/types.ts';
import { currencyDimension, DEFAULT_TOP, MAX_TOP } from '../resolvers/model-request.ts';
import type { ModelSeries } from '../resolvers/model-series.ts';
import { badInput, prepareSeriesRequest, seriesCost } from '../resolvers/series.ts';
import { asksForTraceIds } from '../resolvers/selection.ts';
import type { Builder } from './builder.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';
import { valuesOf, type addDimensions, type RawModelInput } from './model-input.ts';
import type { addSeries } from './series.ts';

interface Breakdown {
  metric: string;
  version: number;
  by: string;
  slices: ModelSeries[];
  freshness: ModelSeries['freshness'];
}

export function addBreakdown(
  builder: Builder,
  plan: ModelPlan,
  { MetricEnum }: ReturnType<typeof addEnums>,
  FreshnessRef: ReturnType<typeof addFreshness>,
  { DimensionEnum }: ReturnType<typeof addDimensions>,
  { SeriesRef, rangeFields, modelFields }: ReturnType<typeof addSeries>,
) {
  if (!DimensionEnum) return;
  const currency = currencyDimension(plan)?.name ?? null;
  const BreakdownRef = builder.objectRef<Breakdown>('Breakdown').implement({
    description: 'One series per value of a dimension the tenant has data in over the range (or its comparison period).',
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, resolve: (b) => b.metric }),
      version: t.exposeInt('version'),
      by: t.field({ type: DimensionEnum, resolve: (b) => b.by }),
      slices: t.field({ type: [SeriesRef], description: 'By currency: ordered by currency code. Else the top N by total, largest first, then `other`.', resolve: (b) => b.slices }),
      freshness: t.field({ type: FreshnessRef, resolve: (b) => b.freshness }),
    }),
  });

  const BreakdownInput = builder.inputType('BreakdownInput', {
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, required: true }),
      by: t.field({ type: DimensionEnum, required: false, description: `The dimension to split by; omitted = ${currency ? currency.toUpperCase() : 'required (the model has no currency)'}.` }),
      top: t.int({ required: true, defaultValue: DEFAULT_TOP, description: `Slices before \`other\` (1–${MAX_TOP}); ignored for currency.` }),
      currency: t.string({ required: false, description: 'ISO 4217: shorthand for a `where` on the currency dimension; money split by another dimension needs one currency.' }),
      ...modelFields(t),
      ...rangeFields(t),
    }),
  });

  builder.queryField('breakdown', (t) =>
    t.field({
      type: BreakdownRef,
      description: 'A metric split by one of its dimensions (by default currency), e.g. revenue by currency. Read in the same single query as the other series of the request.',
      args: { input: t.arg({ type: BreakdownInput, required: true }) },
      resolve: async (_root, { input }, ctx, info) => {
        const loader = ctx.modelLoader();
        const by = input.by ?? currency;
        if (by === null) throw badInput(`model ${plan.name} has no currency dimension: give \`by\``);
        const request = prepareSeriesRequest(ctx.services.plan, valuesOf(input as RawModelInput, { by, top: input.top }), { now: ctx.services.clock(), traces: asksForTraceIds(info) });
        ctx.chargeSeries(seriesCost(request));
        const slices = await loader.load(request);
        return { metric: request.version.name, version: request.version.version, by, slices, freshness: slices[0]?.freshness ?? ctx.services.freshness.of(ctx.principal!.tenantId) };
      },
    }),
  );
}
