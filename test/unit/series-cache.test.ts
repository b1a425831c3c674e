/**
 * The series cache (src/resolvers/series-cache/) over a fake storage and a fake bus:
 * answers equal the uncached reader's; the closed part is kept and only the edge read;
 * a correction of a closed hour is never served once its update has arrived, also when
 * it arrives while a read is in flight (the race injected by holding the read back), and
 * at most SERIES_CACHE_MAX_AGE_MS after it was written when its update is lost; gaps drop
 * entries; the byte budget and the tenant bound hold; identical concurrent reads share
 * one read; versions still being backfilled are never kept.
 */
import { describe, expect, it } from 'vitest';
import { HOUR, MINUTE } from '../helpers/series-cache-fakes.ts';
import { byCurrency, DAY, rangesOf, ranked, series, setup, T0, users } from '../helpers/series-cache-setup.ts';


describe('series cache: answers and what is read', () => {
  it('gives the uncached answers, cold and warm, for series, currency breakdowns, distinct and ranked queries', async () => {
    const s = setup();
    const qs = [series(), byCurrency, users, ranked, series({ filters: [{ index: 1, in: ['pro'], notIn: null }] }), series({ table: 'metric_windows', granularity: 'HOUR', from: T0 + DAY, to: T0 + DAY + 6 * HOUR })];
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    expect(s.storage.calls).toHaveLength(2);
  });

  it('keeps the closed prefix and the open edge; an update of the edge re-reads only the edge: whole hours on the hourly table, minutes on the minute table', async () => {
    const s = setup();
    const minute = series({ table: 'metric_windows', granularity: 'HOUR' });
    const at = T0 + 2 * DAY + 5 * HOUR;
    await s.reader.read('acme', [series(), minute]);
    await s.reader.read('acme', [series(), minute]); // nothing changed: all from memory
    s.add({ t: at + 40 * MINUTE, value: '1000' });
    s.bus.publish('acme', at + 40 * MINUTE);
    expect(await s.reader.read('acme', [series(), minute])).toEqual(s.truth([series(), minute]));
    expect(rangesOf(s.storage.calls)).toEqual([
      [['revenue', T0, at], ['revenue', at, T0 + 3 * DAY], ['revenue', T0, at + 30 * MINUTE], ['revenue', at + 30 * MINUTE, T0 + 3 * DAY]],
      [['revenue', at, T0 + 3 * DAY], ['revenue', at + 30 * MINUTE, T0 + 3 * DAY]],
    ]);
    expect(s.outcomes).toEqual(['miss', 'miss', 'hit', 'hit', 'partial', 'partial']);
  });

  it('an edge read overtaken by an update of the edge is served but not kept', async () => {
    const s = setup();
    await s.reader.read('acme', [series()]);
    const open = T0 + 2 * DAY + 6 * HOUR;
    s.add({ t: open, value: '1000' });
    s.bus.publish('acme', open);
    s.storage.hold();
    const inFlight = s.reader.read('acme', [series()]); // reads the edge: its snapshot has the 1000
    s.add({ t: open + MINUTE, value: '7' });
    s.bus.publish('acme', open + MINUTE);
    s.storage.release();
    await inFlight;
    expect(await s.reader.read('acme', [series()])).toEqual(s.truth([series()]));
    expect(s.storage.calls).toHaveLength(3);
  });

  it('grows the closed prefix by what closed since (one read: the gap and the edge)', async () => {
    const s = setup();
    await s.reader.read('acme', [series()]);
    s.setClosedBefore(T0 + 2 * DAY + 8 * HOUR);
    expect(await s.reader.read('acme', [series()])).toEqual(s.truth([series()]));
    const [a, b] = [T0 + 2 * DAY + 5 * HOUR, T0 + 2 * DAY + 8 * HOUR];
    expect(rangesOf(s.storage.calls.slice(1))).toEqual([[['revenue', a, b], ['revenue', b, T0 + 3 * DAY]]]);
    await s.reader.read('acme', [series()]);
    expect(s.storage.calls).toHaveLength(2);
  });

  it('keeps a ranked breakdown operand under its leader: another leader reads it again', async () => {
    const s = setup();
    const previous = { from: T0, to: T0 + DAY };
    const follower = { ...series({ metric: 'users', distinct: true, breakdown: { index: 1, top: 1, group: 0, leader: false } }), ...previous };
    const leaderOf = (metric: string) => ({ ...series({ metric, breakdown: { index: 1, top: 1, group: 0, leader: true } }), ...previous });
    await s.reader.read('acme', [leaderOf('revenue'), follower]);
    await s.reader.read('acme', [leaderOf('revenue'), follower]);
    await s.reader.read('acme', [leaderOf('other'), follower]);
    expect(rangesOf(s.storage.calls).map((c) => c.map((x) => x[0]))).toEqual([['revenue', 'users'], ['other', 'users']]);
  });

  it('a read answered wholly from memory reads nothing', async () => {
    const s = setup();
    const closed = series({ to: T0 + 2 * DAY });
    await s.reader.read('acme', [closed]);
    expect(await s.reader.read('acme', [closed])).toEqual(s.truth([closed]));
    expect(s.storage.calls).toHaveLength(1);
    expect(s.outcomes).toEqual(['miss', 'hit']);
  });

  it('keeps a range only from where the backfill has covered it (incompleteBefore) on', async () => {
    const s = setup({ keepable: (_m, from) => from >= T0 + DAY });
    const covered = series({ from: T0 + DAY });
    for (let i = 0; i < 2; i++) await s.reader.read('acme', [series(), covered]);
    expect(s.outcomes).toEqual(['uncached', 'miss', 'uncached', 'hit']);
  });

  it('never keeps a version that is still being backfilled', async () => {
    const s = setup({ keepable: (m) => m !== 'revenue' });
    await s.reader.read('acme', [series()]);
    await s.reader.read('acme', [series()]);
    expect(rangesOf(s.storage.calls)).toEqual([[['revenue', T0, T0 + 3 * DAY]], [['revenue', T0, T0 + 3 * DAY]]]);
  });
});

describe('series cache: corrections and gaps', () => {
  const closedHour = T0 + DAY + 3 * HOUR;

  it('drops an entry when a correction of a closed hour arrives: the next read has it', async () => {
    const s = setup();
    await s.reader.read('acme', [series(), byCurrency]);
    s.add({ t: closedHour + 7 * MINUTE, value: '1000' });
    expect(await s.reader.read('acme', [series(), byCurrency])).not.toEqual(s.truth([series(), byCurrency])); // no update yet: kept
    s.bus.publish('acme', closedHour + 7 * MINUTE);
    expect(await s.reader.read('acme', [series(), byCurrency])).toEqual(s.truth([series(), byCurrency]));
  });

  it('an update of another tenant, or outside the kept range, drops nothing', async () => {
    const s = setup();
    await s.reader.read('acme', [series()]);
    s.bus.publish('globex', closedHour);
    s.bus.publish('acme', T0 + 2 * DAY + 6 * HOUR); // the open edge
    await s.reader.read('acme', [series()]);
    expect(s.outcomes).toEqual(['miss', 'partial']);
  });

  it('the race: a correction arriving while the read is in flight makes its result not kept', async () => {
    const s = setup();
    s.storage.hold();
    const inFlight = s.reader.read('acme', [series()]); // its snapshot misses the correction
    s.add({ t: closedHour, value: '1000' });
    s.bus.publish('acme', closedHour);
    s.storage.release();
    await inFlight;
    expect(await s.reader.read('acme', [series()])).toEqual(s.truth([series()]));
    expect(rangesOf(s.storage.calls)[1]![0]).toEqual(['revenue', T0, T0 + 2 * DAY + 5 * HOUR]);
  });

  it('the race on the minute table: a correction inside an hour of the hourly table invalidates the hour', async () => {
    const s = setup();
    s.storage.hold();
    const inFlight = s.reader.read('acme', [series()]);
    s.add({ t: closedHour + 59 * MINUTE, value: '1000' });
    s.bus.publish('acme', closedHour + 59 * MINUTE);
    s.storage.release();
    await inFlight;
    expect(await s.reader.read('acme', [series()])).toEqual(s.truth([series()]));
  });

  it('a read that joins one in flight after a correction arrived reads again', async () => {
    const s = setup();
    s.storage.hold();
    const first = s.reader.read('acme', [series()]);
    s.add({ t: closedHour, value: '1000' });
    s.bus.publish('acme', closedHour);
    const second = s.reader.read('acme', [series()]);
    s.storage.release();
    await first;
    expect(await second).toEqual(s.truth([series()]));
    expect(s.storage.calls).toHaveLength(2);
  });

  it('a lost update is served at most maxAgeMs after the read that missed it', async () => {
    const s = setup({ maxAgeMs: 30_000 });
    const start = T0 + 3 * DAY;
    await s.reader.read('acme', [series()]);
    s.add({ t: closedHour, value: '1000' }); // written, its update never arrives
    s.setNow(start + 30_000);
    expect(await s.reader.read('acme', [series()])).not.toEqual(s.truth([series()]));
    s.setNow(start + 30_001);
    expect(await s.reader.read('acme', [series()])).toEqual(s.truth([series()]));
  });

  it('a lost bus drops every entry and keeps nothing until it is restored', async () => {
    const s = setup();
    await s.reader.read('acme', [series()]);
    await s.reader.read('globex', [series()]);
    s.bus.gap({ kind: 'lost' });
    expect(s.store.size().entries).toBe(0);
    await s.reader.read('acme', [series()]);
    expect(s.store.size().entries).toBe(0);
    s.bus.gap({ kind: 'restored' });
    await s.reader.read('acme', [series()]);
    expect(s.store.size().entries).toBe(2); // the closed prefix and the open edge
  });

  it('a read in flight when the bus is lost is not kept', async () => {
    const s = setup();
    s.storage.hold();
    const inFlight = s.reader.read('acme', [series()]);
    s.bus.gap({ kind: 'lost' });
    s.bus.gap({ kind: 'restored' });
    s.storage.release();
    await inFlight;
    expect(s.store.size().entries).toBe(0);
  });

  it('a dropped gap of one tenant drops that tenant\'s entries only', async () => {
    const s = setup();
    await s.reader.read('acme', [series()]);
    await s.reader.read('globex', [series()]);
    s.bus.gap({ kind: 'dropped', tenantId: 'globex', since: T0 });
    expect(s.store.size().entries).toBe(2); // acme's prefix and edge
    await s.reader.read('acme', [series()]);
    expect(s.outcomes.at(-1)).toBe('hit');
  });

  it('keeps nothing read before the tenant\'s subscription is in effect', async () => {
    const s = setup();
    s.bus.deferActivation(true);
    await s.reader.read('acme', [series()]);
    expect(s.store.size().entries).toBe(0);
    s.bus.activate('acme');
    await s.reader.read('acme', [series()]);
    expect(s.store.size().entries).toBe(2);
  });
});

describe('series cache: bounds and single flight', () => {
  it('stays within its byte budget, dropping the least recently used entries', async () => {
    const s = setup({ maxBytes: 20_000 });
    const qs = Array.from({ length: 40 }, (_, i) => series({ to: T0 + 2 * DAY, filters: [{ index: 1, in: [`p${i}`, 'pro'], notIn: null }], granularity: 'HOUR' }));
    for (const q of qs) await s.reader.read('acme', [q]);
    const size = s.store.size();
    expect(size.bytes).toBeLessThanOrEqual(20_000);
    expect(size.entries).toBeGreaterThan(0);
    expect(size.entries).toBeLessThan(40);
    s.outcomes.length = 0;
    await s.reader.read('acme', [qs[39]!]);
    await s.reader.read('acme', [qs[0]!]);
    expect(s.outcomes).toEqual(['hit', 'miss']);
  });

  it('subscribes at most maxTenants tenants, unsubscribing the least recently used', async () => {
    const s = setup({ maxTenants: 2 });
    for (const t of ['a', 'b', 'c']) await s.reader.read(t, [series()]);
    expect(s.bus.subscribed().sort()).toEqual(['b', 'c']);
    expect(s.store.size()).toMatchObject({ tenants: 2, entries: 4 });
    await s.reader.read('b', [series()]);
    await s.reader.read('a', [series()]);
    expect(s.bus.subscribed().sort()).toEqual(['a', 'b']);
  });

  it('identical concurrent reads share one storage read', async () => {
    const s = setup();
    s.storage.hold();
    const reads = Array.from({ length: 5 }, () => s.reader.read('acme', [series(), users]));
    s.storage.release();
    const answers = await Promise.all(reads);
    expect(s.storage.calls).toHaveLength(1);
    expect(s.shared()).toBe(4);
    for (const a of answers) expect(a).toEqual(s.truth([series(), users]));
  });
});
