/** Backfill coverage: contiguous ranges down from live computation, incompleteBefore, and the CLI's arguments. */
import { describe, expect, it } from 'vitest';
import { selectMeasures } from '../../src/aggregate/backfill/backfill.ts';
import { BackfillUsageError, parseBackfillArgs } from '../../src/cli/backfill.ts';
import { requireModel } from '../../src/model/compile.ts';
import { backfillEnd, coveredFrom, HOUR_MS, incompleteBeforeOf } from '../../src/storage/backfill-store.ts';

const H = HOUR_MS;
const live = 100 * H + 1_234;

describe('backfill coverage', () => {
  it('ends the hour after live computation began', () => {
    expect(backfillEnd(live)).toBe(102 * H);
    expect(backfillEnd(100 * H)).toBe(102 * H);
  });

  it('follows contiguous ranges down from the end, in any order, and stops at a gap', () => {
    const end = 102 * H;
    expect(coveredFrom([], end)).toBe(end);
    expect(coveredFrom([{ from: 99 * H, to: 100 * H }, { from: 101 * H, to: end }, { from: 100 * H, to: 101 * H }], end)).toBe(99 * H);
    expect(coveredFrom([{ from: 101 * H, to: end }, { from: 95 * H, to: 100 * H }], end)).toBe(101 * H);
    // A range recorded by a run whose chunk spanned empty hours.
    expect(coveredFrom([{ from: 90 * H, to: end }, { from: 80 * H, to: 91 * H }], end)).toBe(80 * H);
  });

  it('is incomplete before live computation, then before what is covered, then as done says', () => {
    expect(incompleteBeforeOf(undefined, 7)).toBe(7);
    expect(incompleteBeforeOf({ liveSince: null, ranges: [], done: null }, 7)).toBe(7);
    expect(incompleteBeforeOf({ liveSince: live, ranges: [], done: null }, 7)).toBe(live);
    expect(incompleteBeforeOf({ liveSince: live, ranges: [{ from: 97 * H, to: 102 * H }], done: null }, 7)).toBe(97 * H);
    expect(incompleteBeforeOf({ liveSince: live, ranges: [{ from: 97 * H, to: 102 * H }], done: { incompleteBefore: null } }, 7)).toBeNull();
    expect(incompleteBeforeOf({ liveSince: live, ranges: [], done: { incompleteBefore: 50 * H } }, 7)).toBe(50 * H);
  });

  it('selects stored versions of the plan, and refuses formulas and unknown ids', async () => {
    const plan = await requireModel('models/default.yaml');
    expect(selectMeasures(plan).map((m) => m.id)).toEqual(plan.measures.map((m) => m.id));
    expect(selectMeasures(plan, ['revenue@1', 'revenue@1']).map((m) => m.id)).toEqual(['revenue@1']);
    expect(() => selectMeasures(plan, ['arpu@1', 'revenue@9'])).toThrow(/not a stored metric of model tilecast-default: arpu@1, revenue@9/);
  });

  it('parses --metric name@version, repeated', () => {
    expect(parseBackfillArgs([])).toEqual({ metrics: [] });
    expect(parseBackfillArgs(['--metric', 'revenue@2', '--metric', 'upgrades@1'])).toEqual({ metrics: ['revenue@2', 'upgrades@1'] });
    expect(() => parseBackfillArgs(['--metric', 'Revenue'])).toThrow(BackfillUsageError);
  });
});
