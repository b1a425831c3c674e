/** Time-zone bucketing and comparison periods, as tables: DST days, a leap day, ISO weeks, months. */
import { describe, expect, it } from 'vitest';
import type { Granularity } from '../../src/contracts/metrics.ts';
import { bucketStart, bucketsBetween, shiftLocal } from '../../src/resolvers/buckets.ts';
import { comparisonRange, type Comparison } from '../../src/resolvers/periods.ts';

const iso = (t: number) => new Date(t).toISOString();
const at = (s: string) => Date.parse(s);
const H = 3_600_000;

describe('bucketStart', () => {
  const cases: [string, Granularity, string, string][] = [
    // instant, granularity, zone, expected bucket start
    ['2026-11-01T05:30:00Z', 'DAY', 'America/New_York', '2026-11-01T04:00:00.000Z'], // fall-back day starts at EDT midnight
    ['2026-11-02T04:30:00Z', 'DAY', 'America/New_York', '2026-11-01T04:00:00.000Z'], // 23:30 EST is still Nov 1 (25-hour day)
    ['2026-11-02T05:00:00Z', 'DAY', 'America/New_York', '2026-11-02T05:00:00.000Z'],
    ['2026-03-29T01:30:00Z', 'DAY', 'Europe/Berlin', '2026-03-28T23:00:00.000Z'], // spring-forward day starts at CET midnight
    ['2026-03-29T22:30:00Z', 'DAY', 'Europe/Berlin', '2026-03-29T22:00:00.000Z'], // next day at CEST midnight
    ['2026-03-29T01:30:00Z', 'HOUR', 'Europe/Berlin', '2026-03-29T01:00:00.000Z'], // 03:00 CEST right after the gap
    ['2026-11-01T06:30:00Z', 'HOUR', 'America/New_York', '2026-11-01T06:00:00.000Z'], // the repeated 01:00 (EST)
    ['2026-11-01T05:30:00Z', 'HOUR', 'America/New_York', '2026-11-01T05:00:00.000Z'], // the first 01:00 (EDT)
    ['2026-01-01T10:50:00Z', 'HOUR', 'Asia/Kolkata', '2026-01-01T10:30:00.000Z'], // +05:30: hours start at :30 UTC
    ['2028-02-29T12:00:00Z', 'DAY', 'UTC', '2028-02-29T00:00:00.000Z'], // leap day
    ['2028-02-29T12:00:00Z', 'MONTH', 'UTC', '2028-02-01T00:00:00.000Z'],
    ['2028-02-29T12:00:00Z', 'WEEK', 'UTC', '2028-02-28T00:00:00.000Z'], // Tuesday → Monday 28th
    ['2026-11-04T03:00:00Z', 'WEEK', 'America/New_York', '2026-11-02T05:00:00.000Z'], // Tue 23:00 local → Mon Nov 2 (EST)
    ['2026-11-04T03:00:00Z', 'MONTH', 'America/New_York', '2026-11-01T04:00:00.000Z'], // Nov 1 midnight was EDT
    ['2026-11-01T03:00:00Z', 'MONTH', 'America/New_York', '2026-10-01T04:00:00.000Z'], // still Oct 31 in New York
    ['2027-01-01T02:00:00Z', 'WEEK', 'UTC', '2026-12-28T00:00:00.000Z'], // ISO week across the new year
    ['2026-11-08T23:59:00Z', 'WEEK', 'UTC', '2026-11-02T00:00:00.000Z'], // Sunday belongs to the week of Monday before
    ['2026-11-09T00:00:00Z', 'WEEK', 'UTC', '2026-11-09T00:00:00.000Z'],
    ['2026-04-05T12:00:00Z', 'DAY', 'Australia/Lord_Howe', '2026-04-04T13:00:00.000Z'], // 30-minute DST shift (+11 → +10:30)
  ];
  it.each(cases)('%s %s in %s → %s', (t, g, tz, expected) => {
    expect(iso(bucketStart(at(t), g, tz))).toBe(expected);
  });
});

describe('bucketsBetween', () => {
  const lengths = (from: string, to: string, g: Granularity, tz: string) => bucketsBetween(at(from), at(to), g, tz).map((b) => (b.end - b.start) / H);

  it('has a 25-hour New York day on 2026-11-01 and a 23-hour Berlin day on 2026-03-29', () => {
    expect(lengths('2026-10-31T04:00:00Z', '2026-11-03T05:00:00Z', 'DAY', 'America/New_York')).toEqual([24, 25, 24]);
    expect(lengths('2026-03-27T23:00:00Z', '2026-03-30T22:00:00Z', 'DAY', 'Europe/Berlin')).toEqual([24, 23, 24]);
  });

  it('lists one HOUR bucket per existing local hour: 23 on spring-forward, 25 on fall-back', () => {
    expect(bucketsBetween(at('2026-03-28T23:00:00Z'), at('2026-03-29T22:00:00Z'), 'HOUR', 'Europe/Berlin')).toHaveLength(23);
    expect(bucketsBetween(at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'), 'HOUR', 'America/New_York')).toHaveLength(25);
  });

  it('has a 29-day leap February and a leap day of its own', () => {
    expect(lengths('2028-01-01T00:00:00Z', '2028-04-01T00:00:00Z', 'MONTH', 'UTC')).toEqual([31 * 24, 29 * 24, 31 * 24]);
    const days = bucketsBetween(at('2028-02-28T00:00:00Z'), at('2028-03-02T00:00:00Z'), 'DAY', 'UTC').map((b) => iso(b.start));
    expect(days).toEqual(['2028-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
  });

  it('has weeks of 169 and 167 hours across DST changes, starting Mondays', () => {
    const fall = bucketsBetween(at('2026-10-26T04:00:00Z'), at('2026-11-09T05:00:00Z'), 'WEEK', 'America/New_York');
    expect(fall.map((b) => [iso(b.start), (b.end - b.start) / H])).toEqual([
      ['2026-10-26T04:00:00.000Z', 169],
      ['2026-11-02T05:00:00.000Z', 168],
    ]);
    const spring = bucketsBetween(at('2026-03-22T23:00:00Z'), at('2026-03-29T22:00:00Z'), 'WEEK', 'Europe/Berlin');
    expect(spring.map((b) => (b.end - b.start) / H)).toEqual([167]);
  });

  it('has a March of 31 days minus an hour in Berlin', () => {
    expect(lengths('2026-02-28T23:00:00Z', '2026-03-31T22:00:00Z', 'MONTH', 'Europe/Berlin')).toEqual([31 * 24 - 1]);
  });

  it('starts with the bucket holding `from` and ends before `to`', () => {
    const b = bucketsBetween(at('2026-11-01T10:30:00Z'), at('2026-11-01T12:00:00Z'), 'HOUR', 'UTC').map((x) => iso(x.start));
    expect(b).toEqual(['2026-11-01T10:00:00.000Z', '2026-11-01T11:00:00.000Z']);
  });
});

describe('shiftLocal', () => {
  const cases: [string, Parameters<typeof shiftLocal>[1], string, string][] = [
    ['2028-02-29T12:00:00Z', { years: -1 }, 'UTC', '2027-02-28T12:00:00.000Z'],
    ['2027-03-31T00:00:00Z', { months: -1 }, 'UTC', '2027-02-28T00:00:00.000Z'],
    ['2026-11-02T05:00:00Z', { days: -1 }, 'America/New_York', '2026-11-01T04:00:00.000Z'], // midnight stays midnight across the change
    ['2026-11-08T05:00:00Z', { days: -7 }, 'America/New_York', '2026-11-01T04:00:00.000Z'],
    ['2026-03-30T22:00:00Z', { years: -1 }, 'Europe/Berlin', '2025-03-30T22:00:00.000Z'],
  ];
  it.each(cases)('%s by %o in %s → %s', (t, by, tz, expected) => {
    expect(iso(shiftLocal(at(t), by, tz))).toBe(expected);
  });
});

describe('comparisonRange', () => {
  const cases: [string, string, Granularity, Comparison, string, string, string][] = [
    ['2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', 'HOUR', 'PREVIOUS_PERIOD', 'UTC', '2026-10-02T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', 'MONTH', 'PREVIOUS_PERIOD', 'UTC', '2026-10-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', 'DAY', 'PREVIOUS_YEAR', 'UTC', '2025-11-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z'],
    // 7 local days in New York including the 25-hour Nov 1 → the 7 local days before (all 24 hours)
    ['2026-11-01T04:00:00Z', '2026-11-08T05:00:00Z', 'DAY', 'PREVIOUS_PERIOD', 'America/New_York', '2026-10-25T04:00:00.000Z', '2026-11-01T04:00:00.000Z'],
    // a leap-year March compared with the same dates a year earlier
    ['2028-02-29T00:00:00Z', '2028-03-01T00:00:00Z', 'DAY', 'PREVIOUS_YEAR', 'UTC', '2027-02-28T00:00:00.000Z', '2027-03-01T00:00:00.000Z'],
    ['2028-03-01T00:00:00Z', '2028-03-08T00:00:00Z', 'WEEK', 'PREVIOUS_PERIOD', 'UTC', '2028-02-23T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    // not whole local days: exact duration
    ['2026-11-01T00:00:00Z', '2026-11-01T12:30:00Z', 'DAY', 'PREVIOUS_PERIOD', 'UTC', '2026-10-31T11:30:00.000Z', '2026-11-01T00:00:00.000Z'],
  ];
  it.each(cases)('[%s, %s) %s %s in %s → [%s, %s)', (from, to, g, p, tz, eFrom, eTo) => {
    const r = comparisonRange({ from: at(from), to: at(to) }, g, p, tz);
    expect([iso(r.from), iso(r.to)]).toEqual([eFrom, eTo]);
  });
});
