/**
 * Query.series, derivedSeries and breakdown: each field is a model request
 * (prepareModelRequest) answered by the request's model DataLoader (model-series.ts), so
 * ONE ClickHouse read serves every series, derived series, breakdown, metricSeries and
 * metricBreakdown of an operation. What these fields check beyond the model request keeps
 * the error texts their clients know.
 */
import { GraphQLError } from 'graphql';
import type { ModelPlan } from '../model/types.ts';
import { currencyDimension, prepareModelRequest, type ModelInputValues, type ModelRequest } from './model-request.ts';

/** Series a request may ask for (a comparison period counts as one more). */
export const MAX_SERIES_PER_REQUEST = 50;

export const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/**
 * Checks a series field's request before any work and picks its source; throws
 * BAD_USER_INPUT errors that say how to fix it. A money metric asked for without a
 * currency is refused in the words of the Metric enum (`REVENUE needs a currency`).
 */
export function prepareSeriesRequest(plan: ModelPlan, r: ModelInputValues, o: { now: number; traces: boolean }): ModelRequest {
  const v = plan.metric(r.metric, r.version ?? undefined);
  const cur = currencyDimension(plan)?.name;
  const inOneCurrency = r.currency !== null || r.where.some((c) => c.dimension === cur);
  if (v?.money && !inOneCurrency && !(r.breakdown && r.breakdown.by === cur)) {
    const name = v.name.toUpperCase();
    throw badInput(
      v.kind === 'formula'
        ? `${name} needs a currency: it is computed from money, which is never added across currencies`
        : `${name} needs a currency: amounts in different currencies are never added together (use \`breakdown\` to split it by currency)`,
    );
  }
  return prepareModelRequest(plan, r, o);
}

/** How many series a request costs against MAX_SERIES_PER_REQUEST. */
export const seriesCost = (r: Pick<ModelRequest, 'comparison'>): number => (r.comparison ? 2 : 1);

/** The model formula a DerivedMetric value names (ARPU → arpu). */
export function derivedMetricName(plan: ModelPlan, metric: string): string {
  const v = plan.metric(metric.toLowerCase());
  if (!v || v.kind !== 'formula') throw badInput(`${metric} is not a formula of model ${plan.name}: ask \`series\` for one of its metrics`);
  return v.name;
}
