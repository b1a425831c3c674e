/**
 * What every read's SQL is built from: the bound parameters every value travels in, and
 * the closed set of bucket expressions (identifiers never come from input).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Granularity } from '../contracts/metrics.ts';

/**
 * Closed set of bucket expressions; `tz` is the time zone's placeholder (a bound
 * parameter). toStartOfWeek and toStartOfMonth return a Date (a local calendar day), so
 * it is turned back into that day's midnight instant in the same zone.
 */
export const BUCKET_SQL: Record<Granularity, (t: string, tz: string) => string> = {
  MINUTE: (t) => t,
  HOUR: (t, tz) => `toStartOfHour(${t}, ${tz})`,
  DAY: (t, tz) => `toStartOfDay(${t}, ${tz})`,
  WEEK: (t, tz) => `toDateTime(toStartOfWeek(${t}, 1, ${tz}), ${tz})`,
  MONTH: (t, tz) => `toDateTime(toStartOfMonth(${t}, ${tz}), ${tz})`,
};

/**
 * The bound parameters of one read. Every value (tenant, range ends, time zone, metric
 * names, dimension values) enters the SQL only as a `{name:Type}` placeholder returned by
 * `bind`; SQL text holds identifiers from closed sets and fixed expressions only.
 */
export class QueryParams {
  readonly values: Record<string, unknown> = {};

  /** Records `value` under `name` and returns its placeholder; one name never carries two values. */
  bind(name: string, type: string, value: unknown): string {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad query parameter name: ${name}`);
    if (name in this.values && !isDeepStrictEqual(this.values[name], value)) throw new Error(`query parameter ${name} bound to two values`);
    this.values[name] = value;
    return `{${name}:${type}}`;
  }
}
