/**
 * The derived metrics existing clients name (`DerivedMetric`: the default model's formulas
 * arpu and net_user_change, evaluated by src/model/evaluate.ts), and the exact decimal
 * arithmetic of comparisons. Pure.
 */
import { divideHalfEven, fromMicros, toMicros } from '../contracts/decimal.ts';

export const DERIVED_METRICS = ['ARPU', 'NET_USER_CHANGE'] as const;
export type DerivedMetric = (typeof DERIVED_METRICS)[number];


/** Exact quotient of two decimals (≤ 6 fractional digits each) as a decimal with 6 fractional digits, half-even. */
export function divideDecimals(numerator: string, denominator: string): string {
  // n/d in micro-units = (n·10⁶) · 10⁶ / (d·10⁶)
  return fromMicros(divideHalfEven(toMicros(numerator) * 1_000_000n, toMicros(denominator)));
}

/** current − previous, exact. */
export const difference = (current: string, previous: string): string => fromMicros(toMicros(current) - toMicros(previous));

/** (current − previous) / previous with 6 fractional digits, half-even; null when previous is 0. */
export const changeRatio = (current: string, previous: string): string | null =>
  toMicros(previous) === 0n ? null : divideDecimals(difference(current, previous), previous);
