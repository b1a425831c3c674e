/**
 * Bucket boundaries in the caller's IANA time zone, DST-correct, computed the same
 * way ClickHouse's toStartOfHour / toStartOfDay(t, tz) do, so a series can list
 * empty buckets too. Pure.
 */
import type { Granularity } from '../contracts/metrics.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

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

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

function localParts(t: number, timeZone: string) {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** UTC offset of `timeZone` at instant `t`, in ms. */
export function offsetAt(t: number, timeZone: string): number {
  const l = localParts(t, timeZone);
  return Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s) - Math.floor(t / 1000) * 1000;
}

/** Start of the bucket that contains instant `t`. */
export function bucketStart(t: number, granularity: Granularity, timeZone: string): number {
  if (granularity === 'MINUTE') return Math.floor(t / MINUTE) * MINUTE;
  if (granularity === 'HOUR') {
    const local = t + offsetAt(t, timeZone);
    return t - (((local % HOUR) + HOUR) % HOUR);
  }
  const l = localParts(t, timeZone);
  const midnightAsUtc = Date.UTC(l.y, l.mo - 1, l.d);
  // Two passes: the offset at local midnight may differ from the offset at t (DST change that day).
  let guess = midnightAsUtc - offsetAt(t, timeZone);
  guess = midnightAsUtc - offsetAt(guess, timeZone);
  return guess <= t ? guess : midnightAsUtc - offsetAt(t, timeZone);
}

export interface Bucket {
  start: number;
  end: number;
}

/** Estimated bucket count, to refuse oversized requests before doing any work. */
export const estimateBuckets = (from: number, to: number, granularity: Granularity): number =>
  Math.ceil((to - from) / (granularity === 'MINUTE' ? MINUTE : granularity === 'HOUR' ? HOUR : 24 * HOUR)) + 1;

/**
 * Buckets whose minutes fall in [from, to), in order; a bucket's end is the next
 * bucket's start (a 23- or 25-hour day on DST changes).
 */
export function bucketsBetween(from: number, to: number, granularity: Granularity, timeZone: string): Bucket[] {
  if (to <= from) return [];
  const first = Math.ceil(from / MINUTE) * MINUTE;
  if (granularity === 'MINUTE') {
    const out: Bucket[] = [];
    for (let t = first; t < to; t += MINUTE) out.push({ start: t, end: t + MINUTE });
    return out;
  }
  // Jump past the current bucket by more than its longest length (a 25-hour day, an
  // hour) but less than two buckets, then snap back to a bucket start.
  const jump = granularity === 'HOUR' ? 90 * MINUTE : 26 * HOUR;
  const starts: number[] = [bucketStart(first, granularity, timeZone)];
  while (starts[starts.length - 1]! < to) starts.push(bucketStart(starts[starts.length - 1]! + jump, granularity, timeZone));
  return starts.slice(0, -1).map((start, i) => ({ start, end: starts[i + 1]! }));
}
