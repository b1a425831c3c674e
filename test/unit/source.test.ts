/** pickSource as a table: source choice (with a test catalog holding a rollup), caps and their advice. */
import { describe, expect, it } from 'vitest';
import type { Granularity } from '../../src/contracts/metrics.ts';
import { pickSource, SOURCES, type SourceSpec } from '../../src/resolvers/source.ts';

const at = (s: string) => Date.parse(s);
const DAY = 86_400_000;
const NOW = at('2026-11-25T12:00:00Z');

// Production has minutes and the exact hourly rollup, both kept forever. This catalog keeps the rollup 90 days, to test retention.
const MINUTES: SourceSpec[] = SOURCES.filter((s) => s.table === 'metric_windows');
const WITH_ROLLUP: SourceSpec[] = [...MINUTES, { table: 'metric_windows_hourly', resolutionMs: 3_600_000, retentionMs: 90 * DAY }];
const MINUTES_30D: SourceSpec[] = [{ table: 'metric_windows', resolutionMs: 60_000, retentionMs: 30 * DAY }];

describe('pickSource', () => {
  const cases: [string, string, string, Granularity, string, readonly SourceSpec[], string | RegExp][] = [
    // name, from, to, granularity, zone, sources, expected table or error
    ['production: hourly rollup for 30 days of hours (the dashboard)', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', SOURCES, 'metric_windows_hourly'],
    ['production: hourly rollup for months in Berlin, years back', '2020-01-01T00:00:00Z', '2026-11-01T00:00:00Z', 'MONTH', 'Europe/Berlin', SOURCES, 'metric_windows_hourly'],
    ['production: hourly rollup for DAY in New York across DST', '2026-10-25T04:00:00Z', '2026-11-08T05:00:00Z', 'DAY', 'America/New_York', SOURCES, 'metric_windows_hourly'],
    ['production: minutes for a range off whole hours', '2026-10-26T00:30:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', SOURCES, 'metric_windows'],
    ['production: minutes for a range ending off whole hours', '2026-10-26T00:00:00Z', '2026-11-25T10:17:00Z', 'DAY', 'UTC', SOURCES, 'metric_windows'],
    ['production: minutes for Asia/Kolkata (+05:30)', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'Asia/Kolkata', SOURCES, 'metric_windows'],
    ['production: minutes when a half-hour offset lies inside the range only (Lord Howe)', '2026-01-10T00:00:00Z', '2027-01-10T00:00:00Z', 'DAY', 'Australia/Lord_Howe', SOURCES, 'metric_windows'],
    ['production: minutes for MINUTE', '2026-11-25T00:00:00Z', '2026-11-25T06:00:00Z', 'MINUTE', 'UTC', SOURCES, 'metric_windows'],
    ['rollup serves HOUR in UTC', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', WITH_ROLLUP, 'metric_windows_hourly'],
    ['rollup serves DAY in whole-hour zones', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'DAY', 'America/New_York', WITH_ROLLUP, 'metric_windows_hourly'],
    ['rollup cannot serve a +05:30 zone', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'DAY', 'Asia/Kolkata', WITH_ROLLUP, 'metric_windows'],
    ['rollup cannot serve MINUTE', '2026-11-25T00:00:00Z', '2026-11-25T06:00:00Z', 'MINUTE', 'UTC', WITH_ROLLUP, 'metric_windows'],
    ['rollup retention passed: minutes', '2026-01-01T00:00:00Z', '2026-11-01T00:00:00Z', 'DAY', 'UTC', WITH_ROLLUP, 'metric_windows'],
    ['nothing kept that far back', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 'DAY', 'UTC', MINUTES_30D, /start the range within the last 30 days/],
    ['empty range', '2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z', 'DAY', 'UTC', SOURCES, /"to" must be after "from"/],
    ['too many minutes', '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z', 'MINUTE', 'UTC', SOURCES, /up to 84961 points \(limit 10000 per series\): use a coarser granularity \(HOUR or coarser\), or shorten the range to at most 6 days at MINUTE/],
    ['too many hours', '2024-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'HOUR', 'UTC', SOURCES, /use a coarser granularity \(DAY or coarser\), or shorten the range to at most 416 days at HOUR/],
    ['a year of hours is fine', '2025-11-25T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', MINUTES, 'metric_windows'],
  ];
  it.each(cases)('%s', (_name, from, to, g, tz, sources, expected) => {
    const pick = pickSource({ from: at(from), to: at(to) }, g, NOW, { timeZone: tz, sources });
    if (typeof expected === 'string') {
      expect(pick).toMatchObject({ ok: true, source: { table: expected } });
    } else {
      expect(pick.ok).toBe(false);
      expect(!pick.ok && pick.error).toMatch(expected);
    }
  });

  it('depends on the clock only through retention', () => {
    const range = { from: at('2026-08-01T00:00:00Z'), to: at('2026-08-02T00:00:00Z') };
    const early = pickSource(range, 'HOUR', at('2026-08-10T00:00:00Z'), { timeZone: 'UTC', sources: WITH_ROLLUP });
    const late = pickSource(range, 'HOUR', at('2026-12-10T00:00:00Z'), { timeZone: 'UTC', sources: WITH_ROLLUP });
    expect(early.ok && early.source.table).toBe('metric_windows_hourly');
    expect(late.ok && late.source.table).toBe('metric_windows');
  });
});
