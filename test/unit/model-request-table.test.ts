/** The table a model request reads: the hourly rollup, hours with minute edges, or the minutes. */
import { describe, expect, it } from 'vitest';
import type { Granularity } from '../../src/contracts/metrics.ts';
import { requireModel } from '../../src/model/compile.ts';
import { prepareModelRequest } from '../../src/resolvers/model-request.ts';
import type { Comparison } from '../../src/resolvers/periods.ts';

const plan = await requireModel('models/default.yaml');
const NOW = Date.parse('2026-11-25T12:00:00Z');

const tableOf = (from: string, to: string, granularity: Granularity, timeZone: string, compareTo: Comparison | null = null) =>
  prepareModelRequest(
    plan,
    { metric: 'purchases', version: null, currency: null, where: [], from: Date.parse(from), to: Date.parse(to), granularity, timeZone, breakdown: null, compareTo },
    { now: NOW },
  ).table;

describe('model request table', () => {
  it.each([
    ['whole hours: the hourly rollup', '2026-10-26T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', null, 'metric_windows_hourly'],
    ['off whole hours at the start: hours with edges', '2026-10-26T00:30:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', null, 'metric_windows_edges'],
    ['off whole hours at both ends, DAY in New York across DST', '2026-10-25T04:17:00Z', '2026-11-08T05:41:00Z', 'DAY', 'America/New_York', null, 'metric_windows_edges'],
    ['whole hours with a comparison period: the hourly rollup', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'UTC', 'PREVIOUS_PERIOD', 'metric_windows_hourly'],
    ['Asia/Kolkata (+05:30): minutes', '2026-10-26T00:30:00Z', '2026-11-25T00:00:00Z', 'HOUR', 'Asia/Kolkata', null, 'metric_windows'],
    ['MINUTE: minutes', '2026-11-25T00:30:00Z', '2026-11-25T06:00:00Z', 'MINUTE', 'UTC', null, 'metric_windows'],
    ['no whole hour inside the range: minutes', '2026-11-25T00:10:00Z', '2026-11-25T00:50:00Z', 'HOUR', 'UTC', null, 'metric_windows'],
    ['off whole hours with a comparison period: both with edges', '2026-11-20T00:30:00Z', '2026-11-25T00:00:00Z', 'DAY', 'UTC', 'PREVIOUS_PERIOD', 'metric_windows_edges'],
    ['off whole hours in Kolkata with a comparison: minutes', '2026-11-20T00:30:00Z', '2026-11-25T00:00:00Z', 'DAY', 'Asia/Kolkata', 'PREVIOUS_PERIOD', 'metric_windows'],
  ] as const)('%s', (_name, from, to, granularity, zone, compareTo, table) => {
    expect(tableOf(from, to, granularity, zone, compareTo)).toBe(table);
  });
});
