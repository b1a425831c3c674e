/**
 * Bucket boundaries in the caller's IANA time zone, DST-correct, computed the same
 * way ClickHouse's toStartOfHour / toStartOfDay / toStartOfWeek(t, 1) /
 * toStartOfMonth(t, tz) do, so a series can list empty buckets too. Pure.
 *
 * DAY, WEEK (ISO: Monday) and MONTH start at the zone's local midnight, so a day is
 * 23 or 25 hours long on a DST change and a month is its calendar length (29 days
 * for a leap February).
 */
import type { Granularity } from '../contracts/metrics.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * The zone's canonical IANA spelling ("utc" → "UTC", "europe/berlin" → "Europe/Berlin"),
 * or null when unknown. Intl matches names case-insensitively, ClickHouse does not.
 */
export function canonicalTimeZone(timeZone: string): string | null {
  try {
    return formatter(timeZone).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export interface LocalTime {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** Wall-clock fields of instant `t` in `timeZone` (month 1–12). */
export function localTime(t: number, timeZone: string): LocalTime {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Etc/Zulu']);

/** UTC offset of `timeZone` at instant `t`, in ms. */
export function offsetAt(t: number, timeZone: string): number {
  if (UTC_ZONES.has(timeZone)) return 0;
  const l = localTime(t, timeZone);
  return Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s) - Math.floor(t / 1000) * 1000;
}

/** The instant whose wall clock in `timeZone` reads `wall` (ms as if UTC); in a DST gap, the instant just after it. */
export function instantOfWall(wall: number, timeZone: string): number {
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  if (second + offsetAt(second, timeZone) === wall) return second;
  if (first + offsetAt(first, timeZone) === wall) return first;
  // The wall time does not exist (clocks jumped over it): take the transition instant.
  return Math.max(first, second);
}

/** Days in month `mo` (1–12) of year `y`. */
export const daysInMonth = (y: number, mo: number): number => new Date(Date.UTC(y, mo, 0)).getUTCDate();

/** Start of local calendar date y-mo-d in `timeZone`: its midnight, or its first instant when midnight was skipped. */
export function startOfLocalDate(y: number, mo: number, d: number, timeZone: string): number {
  const wall = Date.UTC(y, mo - 1, d);
  // A DST gap at midnight gives the transition instant: the first instant of that date.
  return instantOfWall(wall, timeZone);
}

/** Start of the bucket that contains instant `t`. */
export function bucketStart(t: number, granularity: Granularity, timeZone: string): number {
  if (granularity === 'MINUTE') return Math.floor(t / MINUTE) * MINUTE;
  if (granularity === 'HOUR') {
    const local = t + offsetAt(t, timeZone);
    return t - (((local % HOUR) + HOUR) % HOUR);
  }
  const l = localTime(t, timeZone);
  if (granularity === 'DAY') return startOfLocalDate(l.y, l.mo, l.d, timeZone);
  if (granularity === 'MONTH') return startOfLocalDate(l.y, l.mo, 1, timeZone);
  // ISO week: back to Monday of the local date (Date.UTC handles month and year underflow).
  const dow = new Date(Date.UTC(l.y, l.mo - 1, l.d)).getUTCDay(); // 0 = Sunday
  const monday = new Date(Date.UTC(l.y, l.mo - 1, l.d - ((dow + 6) % 7)));
  return startOfLocalDate(monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate(), timeZone);
}

export interface Bucket {
  start: number;
  end: number;
}

/** Nominal bucket lengths; DST changes (at most two a year) add or remove a few. */
const NOMINAL: Record<Granularity, number> = { MINUTE, HOUR, DAY, WEEK: 7 * DAY, MONTH: 28 * DAY };
/** A jump longer than the longest bucket (25-hour day, 31-day month) but shorter than two. */
const JUMP: Record<Granularity, number> = { MINUTE, HOUR: 90 * MINUTE, DAY: 26 * HOUR, WEEK: 7 * DAY + 2 * HOUR, MONTH: 32 * DAY };

/** Upper bound of the bucket count, to refuse oversized requests before doing any work. */
export function estimateBuckets(from: number, to: number, granularity: Granularity): number {
  const dstSlack = granularity === 'MINUTE' ? 0 : 2 * Math.ceil((to - from) / (365 * DAY));
  return Math.ceil((to - from) / NOMINAL[granularity]) + 1 + dstSlack;
}

/**
 * Buckets whose minutes fall in [from, to), in order; a bucket's end is the next
 * bucket's start (a 23- or 25-hour day on DST changes, a 29-day leap February).
 */
export function bucketsBetween(from: number, to: number, granularity: Granularity, timeZone: string): Bucket[] {
  if (to <= from) return [];
  const first = Math.ceil(from / MINUTE) * MINUTE;
  if (granularity === 'MINUTE') {
    const out: Bucket[] = [];
    for (let t = first; t < to; t += MINUTE) out.push({ start: t, end: t + MINUTE });
    return out;
  }
  const starts: number[] = [bucketStart(first, granularity, timeZone)];
  while (starts[starts.length - 1]! < to) starts.push(bucketStart(starts[starts.length - 1]! + JUMP[granularity], granularity, timeZone));
  return starts.slice(0, -1).map((start, i) => ({ start, end: starts[i + 1]! }));
}

/**
 * Moves instant `t` by calendar units on the wall clock of `timeZone` (so "one year
 * earlier" keeps the local time across DST). A day that does not exist in the target
 * month is clamped to its last day (29 Feb − 1 year → 28 Feb).
 */
export function shiftLocal(t: number, by: { years?: number; months?: number; days?: number }, timeZone: string): number {
  const l = localTime(t, timeZone);
  const ms = ((t % 1000) + 1000) % 1000;
  const months = l.y * 12 + (l.mo - 1) + (by.years ?? 0) * 12 + (by.months ?? 0);
  const y = Math.floor(months / 12);
  const mo = (months % 12) + 1;
  const d = Math.min(l.d, daysInMonth(y, mo));
  const wall = Date.UTC(y, mo - 1, d + (by.days ?? 0), l.h, l.mi, l.s, ms);
  return instantOfWall(wall, timeZone);
}

/** Wall-clock reading of `t` in `timeZone` as ms-since-epoch-if-it-were-UTC (for calendar arithmetic). */
export const wallOf = (t: number, timeZone: string): number => t + offsetAt(t, timeZone);

export { DAY as DAY_MS };
