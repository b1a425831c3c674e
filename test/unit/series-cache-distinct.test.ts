/**
 * The series cache (src/resolvers/series-cache/) on distinct-user queries, over the fakes:
 * the closed prefix is kept with the merged users' keys of its total and last bucket, only
 * the edge is read, and buckets and totals that span a split are union sizes — equal to
 * the uncached answer as the split moves across straddled buckets, in UTC and a DST zone.
 */
import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE } from '../helpers/series-cache-fakes.ts';
import { DAY, rangesOf, ranked, series, setup, T0, users } from '../helpers/series-cache-setup.ts';

describe('series cache: distinct users across a split', () => {
  it('keeps a distinct query as a closed prefix with its keys, reads only the edge, and unions them exactly', async () => {
    const s = setup();
    // (The comparison period starts an hour in: a query of the same start shares its entry, `to` aside.)
    const previous = { from: T0 + HOUR, to: T0 + DAY };
    const qs = [users, { ...users, ...previous }, { ...ranked, ...previous }];
    const at = T0 + 2 * DAY + 5 * HOUR;
    await s.reader.read('acme', qs);
    // A new user and a known one in the open edge: the edge is read again, the prefix is not.
    s.add({ t: at + 2 * HOUR, metric: 'users', value: '0', user: 'newcomer' });
    s.add({ t: at + 2 * HOUR + MINUTE, metric: 'users', value: '0', user: 'u1' });
    s.bus.publish('acme', at + 2 * HOUR);
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    // The day of T0 + 2 days straddles the split at 05:00: its users are a union of both parts, not a sum.
    expect(rangesOf(s.storage.calls)).toEqual([
      [['users', T0, at], ['users', at, T0 + 3 * DAY], ['users', T0 + HOUR, T0 + DAY], ['revenue', T0 + HOUR, T0 + DAY]],
      [['users', at, T0 + 3 * DAY]],
    ]);
    expect(s.storage.calls[1]![0]!.keysAt).toEqual([T0 + 2 * DAY]);
    expect(s.outcomes.slice(3)).toEqual(['partial', 'hit', 'hit']);
  });

  it('grows a distinct prefix across buckets that straddle each split, on the hourly and the minute table, always the brute force', async () => {
    const s = setup();
    const minutes = series({ table: 'metric_windows', metric: 'users', distinct: true, granularity: 'HOUR', from: T0 + DAY, to: T0 + DAY + 6 * HOUR });
    const byDay = series({ metric: 'users', distinct: true, granularity: 'DAY', timeZone: 'America/New_York', from: T0 - 4 * HOUR, to: T0 + 3 * DAY - 4 * HOUR });
    const qs = [users, minutes, byDay];
    for (const closed of [T0 + DAY + 2 * HOUR + 10 * MINUTE, T0 + DAY + 3 * HOUR + 50 * MINUTE, T0 + DAY + 5 * HOUR, T0 + 2 * DAY + 7 * HOUR + 1, T0 + 3 * DAY]) {
      s.setClosedBefore(closed);
      expect(await s.reader.read('acme', qs), `closed before ${new Date(closed).toISOString()}`).toEqual(s.truth(qs));
      // Kept prefixes hold the keys of their totals and last bucket only.
      expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    }
    expect(s.outcomes.at(-1)).toBe('hit');
  });
});
