/**
 * Which stored table answers a series, and whether the request is small enough to
 * answer at all. Pure and clock-injected (retention is relative to `now`), with
 * table tests (test/unit/source.test.ts).
 *
 * Two sources: the 1-minute `windows` (exact: full snapshots per window, read with
 * FINAL, distinct users as mergeable states) and `windows_hourly`, its exact hourly
 * rollup (every hour a flush or replay touches is recomputed from the minutes, so late
 * corrections reach it; migrations/0005). A rollup may join this list only if it is
 * provably exact like that.
 */
import type { Granularity } from '../contracts/metrics.ts';
import { GRANULARITIES } from '../contracts/metrics.ts';
import { estimateBuckets, offsetAt } from './buckets.ts';

export interface SourceSpec {
  /** Table name (a closed set: it becomes an SQL identifier). */
  table: string;
  /** Length of one stored row's interval, in ms; buckets must be whole multiples of it. */
  resolutionMs: number;
  /** How far back it keeps data; null = forever. */
  retentionMs: number | null;
}

export const SOURCES: readonly SourceSpec[] = [
  { table: 'windows', resolutionMs: 60_000, retentionMs: null },
  { table: 'windows_hourly', resolutionMs: 3_600_000, retentionMs: null },
];

/** Hard limits per series; see also MAX_SERIES_PER_REQUEST in series.ts. */
export const MAX_POINTS_PER_SERIES = 10_000;

export type SourcePick = { ok: true; source: SourceSpec; points: number } | { ok: false; error: string };

const BUCKET_LENGTH: Record<Granularity, number> = { MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000, WEEK: 7 * 86_400_000, MONTH: 28 * 86_400_000 };
const RANGE_WORDS = (ms: number): string => (ms >= 2 * 86_400_000 ? `${Math.floor(ms / 86_400_000)} days` : `${Math.floor(ms / 3_600_000)} hours`);

/** Offsets are sampled this often across a range (plus both ends): zone offsets change at most a few times a year. */
const OFFSET_SAMPLE_MS = 7 * 86_400_000;

/**
 * A source can serve a granularity in a zone when every bucket boundary is a boundary
 * of its rows: MINUTE rows always (every zone offset in use is whole minutes); coarser
 * rows only when the range starts and ends on row boundaries (UTC) and the zone's
 * offset over the whole range is a whole multiple of them — sampled weekly, so a zone
 * whose offset is whole-hour at both ends but half-hour in between (Australia/Lord_Howe
 * over a year) stays on minutes.
 */
function aligned(s: SourceSpec, granularity: Granularity, range: { from: number; to: number }, timeZone: string): boolean {
  if (s.resolutionMs <= 60_000) return true;
  if (range.from % s.resolutionMs !== 0 || range.to % s.resolutionMs !== 0) return false;
  return bucketsAreWhole(s.resolutionMs, granularity, range, timeZone);
}

/**
 * Every `granularity` bucket in `timeZone` over the range is made of whole rows of
 * `resolutionMs` (the range's own ends aside): buckets at least that long, and the zone's
 * offset a whole multiple of it (sampled weekly, see `aligned`).
 */
export function bucketsAreWhole(resolutionMs: number, granularity: Granularity, range: { from: number; to: number }, timeZone: string): boolean {
  if (BUCKET_LENGTH[granularity] < resolutionMs) return false;
  const samples = [range.to];
  for (let t = range.from; t < range.to; t += OFFSET_SAMPLE_MS) samples.push(t);
  return samples.every((t) => offsetAt(t, timeZone) % resolutionMs === 0);
}

/**
 * Picks the coarsest source that can answer `granularity` buckets over [from, to) in
 * `timeZone` and still holds data back to `from`, or explains how to change the request.
 */
export function pickSource(
  range: { from: number; to: number },
  granularity: Granularity,
  now: number,
  o: { timeZone: string; sources?: readonly SourceSpec[]; maxPoints?: number },
): SourcePick {
  const sources = o.sources ?? SOURCES;
  const maxPoints = o.maxPoints ?? MAX_POINTS_PER_SERIES;
  if (range.to <= range.from) return { ok: false, error: '"to" must be after "from"' };
  const points = estimateBuckets(range.from, range.to, granularity);
  if (points > maxPoints) {
    const coarser = GRANULARITIES.find((g) => estimateBuckets(range.from, range.to, g) <= maxPoints);
    const longest = RANGE_WORDS((maxPoints - 1) * BUCKET_LENGTH[granularity]);
    return {
      ok: false,
      error: `This series would have up to ${points} points (limit ${maxPoints} per series): ${coarser ? `use a coarser granularity (${coarser} or coarser), or ` : ''}shorten the range to at most ${longest} at ${granularity}`,
    };
  }
  const candidates = sources
    .filter((s) => s.retentionMs === null || range.from >= now - s.retentionMs)
    .filter((s) => aligned(s, granularity, range, o.timeZone))
    .sort((a, b) => b.resolutionMs - a.resolutionMs);
  const source = candidates[0];
  if (!source) {
    const kept = Math.max(...sources.map((s) => (s.retentionMs === null ? Infinity : s.retentionMs)));
    return { ok: false, error: `No stored data reaches back to "from" at ${granularity} in ${o.timeZone}: start the range within the last ${RANGE_WORDS(kept)}` };
  }
  return { ok: true, source, points };
}
