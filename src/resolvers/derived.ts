/**
 * Metric values from one aggregate row, including the derived metrics, computed from
 * the exact stored values — never from rounded ones. Pure.
 *
 * ARPU = revenue / active users of the same rows (the same currency, bucket or range),
 * as an exact decimal rounded to 6 fractional digits, half to even, from BigInt
 * micro-units; 0 when there are no active users (then there is no revenue either: a
 * purchase always has a user). NET_USER_CHANGE = signups − churns (may be negative).
 */
import { divideHalfEven, fromMicros, toMicros } from '../contracts/decimal.ts';
import type { Metric } from '../contracts/metrics.ts';
import type { WindowValues } from '../contracts/window.ts';

export const DERIVED_METRICS = ['ARPU', 'NET_USER_CHANGE'] as const;
export type DerivedMetric = (typeof DERIVED_METRICS)[number];
export type SeriesMetric = Metric | DerivedMetric;

/** Fractional digits of every derived decimal (ARPU, change ratios). */
export const DERIVED_SCALE = 6;

/** Exact quotient of two decimals (≤ 6 fractional digits each) as a decimal with 6 fractional digits, half-even. */
export function divideDecimals(numerator: string, denominator: string): string {
  // n/d in micro-units = (n·10⁶) · 10⁶ / (d·10⁶)
  return fromMicros(divideHalfEven(toMicros(numerator) * 1_000_000n, toMicros(denominator)));
}

/** The value of `metric` in one aggregate row (null row = nothing stored = 0). */
export function metricValue(metric: SeriesMetric, row: WindowValues | null | undefined): string {
  if (!row) return '0';
  switch (metric) {
    case 'REVENUE':
      return row.revenue;
    case 'PURCHASES':
      return String(row.purchases);
    case 'SIGNUPS':
      return String(row.signups);
    case 'UPGRADES':
      return String(row.upgrades);
    case 'CHURNS':
      return String(row.churns);
    case 'ACTIVE_USERS':
      return String(row.activeUsers);
    case 'ARPU':
      return row.activeUsers === 0 ? '0' : fromMicros(divideHalfEven(toMicros(row.revenue), BigInt(row.activeUsers)));
    case 'NET_USER_CHANGE':
      return String(row.signups - row.churns);
  }
}

/** current − previous, exact. */
export const difference = (current: string, previous: string): string => fromMicros(toMicros(current) - toMicros(previous));

/** (current − previous) / previous with 6 fractional digits, half-even; null when previous is 0. */
export const changeRatio = (current: string, previous: string): string | null =>
  toMicros(previous) === 0n ? null : divideDecimals(difference(current, previous), previous);
