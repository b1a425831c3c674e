/**
 * Comparison periods, pure. PREVIOUS_PERIOD is the range of the same length right
 * before `from`; PREVIOUS_YEAR is the same range one year earlier. Both move on the
 * caller's wall clock for DAY/WEEK/MONTH so the comparison buckets line up with the
 * current ones (local midnights stay local midnights across DST; a 23-hour day is
 * compared with the day before it, not with 23 hours).
 */
import type { Granularity } from '../contracts/metrics.ts';
import { DAY_MS, localTime, shiftLocal, wallOf } from './buckets.ts';

export const COMPARISONS = ['PREVIOUS_PERIOD', 'PREVIOUS_YEAR'] as const;
export type Comparison = (typeof COMPARISONS)[number];

export interface Range {
  from: number;
  to: number;
}

/** Whole calendar months from `from` to `to` on the wall clock, or null when they are not the same day and time of month. */
function wholeMonths(from: number, to: number, timeZone: string): number | null {
  const a = localTime(from, timeZone);
  const b = localTime(to, timeZone);
  if (a.d !== b.d || a.h !== b.h || a.mi !== b.mi || a.s !== b.s || from % 1000 !== to % 1000) return null;
  return (b.y - a.y) * 12 + (b.mo - a.mo);
}

/** The range to compare [from, to) with. */
export function comparisonRange(r: Range, granularity: Granularity, period: Comparison, timeZone: string): Range {
  if (period === 'PREVIOUS_YEAR') return { from: shiftLocal(r.from, { years: -1 }, timeZone), to: shiftLocal(r.to, { years: -1 }, timeZone) };
  const exact = { from: r.from - (r.to - r.from), to: r.from };
  if (granularity === 'MINUTE' || granularity === 'HOUR') return exact;
  if (granularity === 'MONTH') {
    const months = wholeMonths(r.from, r.to, timeZone);
    if (months !== null && months > 0) return { from: shiftLocal(r.from, { months: -months }, timeZone), to: r.from };
  }
  const days = (wallOf(r.to, timeZone) - wallOf(r.from, timeZone)) / DAY_MS;
  if (Number.isInteger(days) && days > 0) return { from: shiftLocal(r.from, { days: -days }, timeZone), to: r.from };
  return exact;
}
