/**
 * The series cache drops only what a window update changed (src/resolvers/series-cache/
 * changes.ts): an update's cells against its window's previous revision tell which metric
 * versions changed; an unknown previous revision, or an update without cells, changes all.
 * Checked on the diff alone, on kept edges, and on the read-versus-update race.
 */
import { describe, expect, it } from 'vitest';
import type { WindowUpdate } from '../../src/contracts/window.ts';
import { createWindowChanges } from '../../src/resolvers/series-cache/changes.ts';
import { HOUR, MINUTE } from '../helpers/series-cache-fakes.ts';
import { DAY, rangesOf, series, setup, T0, users } from '../helpers/series-cache-setup.ts';

const update = (revision: number, cells?: [string, string[], string][], windowStart = T0): WindowUpdate =>
  ({ tenantId: 'acme', currency: 'USD', windowStart, windowEnd: windowStart + MINUTE, revision, cells: cells?.map(([metric, dims, value]) => ({ metric, version: 1, dims, value })) }) as WindowUpdate;

describe('which metrics a window update changed', () => {
  it('revision 1 changes what it has; the next revision changes what differs, in value or slice', () => {
    const c = createWindowChanges();
    expect(c.changed(update(1, [['revenue', ['USD'], '5'], ['users', [], '1']]))).toEqual(new Set(['revenue@1', 'users@1']));
    expect(c.changed(update(2, [['revenue', ['USD'], '5'], ['users', [], '2']]))).toEqual(new Set(['users@1']));
    expect(c.changed(update(3, [['revenue', ['USD'], '5'], ['revenue', ['EUR'], '1'], ['users', [], '2']]))).toEqual(new Set(['revenue@1']));
    expect(c.changed(update(4, [['revenue', ['USD'], '5'], ['revenue', ['EUR'], '1'], ['users', [], '2']]))).toEqual(new Set());
    expect(c.changed(update(5, [['users', [], '2']]))).toEqual(new Set(['revenue@1'])); // a metric gone counts too
  });

  it('an unknown previous revision, or no cells, changes everything', () => {
    const c = createWindowChanges();
    expect(c.changed(update(4, [['revenue', ['USD'], '5']]))).toBeNull(); // first seen at 4: 3 is unknown
    expect(c.changed(update(6, [['revenue', ['USD'], '5']]))).toBeNull(); // 5 was missed
    expect(c.changed(update(7))).toBeNull();
    expect(c.changed(update(8, [['revenue', ['USD'], '5']]))).toBeNull(); // 7 had no cells
    expect(c.changed(update(1, [['revenue', ['USD'], '5']], T0 + MINUTE))).toEqual(new Set(['revenue@1'])); // another window
  });
});

describe('series cache: updates drop the metrics they changed', () => {
  const open = T0 + 2 * DAY + 6 * HOUR;
  const edge = T0 + 2 * DAY + 5 * HOUR; // closedBefore's hour: where the kept edge starts

  it('an update of the open edge that changed users re-reads the users edge only; answers stay exact', async () => {
    const s = setup();
    const qs = [series(), users];
    await s.reader.read('acme', qs);
    s.add({ t: open, metric: 'users', value: '0', user: 'new-user' });
    s.bus.publishCells('acme', open, 1, [['users', '1']]);
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    s.add({ t: open, value: '1000' });
    s.bus.publishCells('acme', open, 2, [['users', '1'], ['revenue', '1000']]);
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    expect(rangesOf(s.storage.calls).slice(1)).toEqual([[['users', edge, T0 + 3 * DAY]], [['revenue', edge, T0 + 3 * DAY]]]);
  });

  it('a revision it has not seen the one before of re-reads every edge', async () => {
    const s = setup();
    const qs = [series(), users];
    await s.reader.read('acme', qs);
    s.add({ t: open, value: '1000' });
    s.bus.publishCells('acme', open, 3, [['users', '1']]); // says only users, but 2 was never seen
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    expect(rangesOf(s.storage.calls)[1]!.map(([m]) => m)).toEqual(['revenue', 'users']);
  });

  it('the race: an update arriving while a read is in flight keeps what it did not change', async () => {
    const s = setup();
    const qs = [series(), users];
    s.storage.hold();
    const inFlight = s.reader.read('acme', qs); // its snapshot misses the new user
    s.add({ t: open, metric: 'users', value: '0', user: 'new-user' });
    s.bus.publishCells('acme', open, 1, [['users', '1']]);
    s.storage.release();
    await inFlight;
    expect(await s.reader.read('acme', qs)).toEqual(s.truth(qs));
    expect(rangesOf(s.storage.calls)[1]!.map(([m]) => m)).toEqual(['users']);
  });
});
