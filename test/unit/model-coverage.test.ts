/**
 * Backfill state in model series: `complete` / `incompleteBefore` from the coverage of the
 * stored versions a series reads (a formula: the latest over its operands), and the API's
 * coverage feed (loaded before serving, polled only while something is incomplete).
 */
import { describe, expect, it, vi } from 'vitest';
import { createCoverageFeed } from '../../src/app/coverage-feed.ts';
import { requireModel } from '../../src/model/compile.ts';
import { createFreshnessTracker } from '../../src/resolvers/freshness.ts';
import { prepareModelRequest, type ModelInputValues } from '../../src/resolvers/model-request.ts';
import { createModelSeriesLoader } from '../../src/resolvers/model-series.ts';
import { createLogger } from '../../src/observability/logger.ts';

const H0 = Date.UTC(2026, 10, 20);
const HOUR = 3_600_000;
const plan = await requireModel('models/default.yaml');

const input = (metric: string, from: number): ModelInputValues => ({
  metric,
  version: null,
  currency: 'USD',
  where: [],
  from,
  to: from + 2 * HOUR,
  granularity: 'HOUR',
  timeZone: 'UTC',
  breakdown: null,
  compareTo: null,
});

async function seriesOf(metric: string, from: number, coverage: Record<string, number | null>) {
  const loader = createModelSeriesLoader({
    plan,
    reader: { read: async (_t, queries) => ({ results: queries.map(() => new Map()), traces: [] }) },
    freshness: createFreshnessTracker({ clock: () => H0 + 10 * HOUR, staleAfterMs: 30_000, countsSource: () => true }),
    coverage: { incompleteBefore: (id) => coverage[id] ?? null },
    tenantId: 't1',
  });
  const [s] = await loader.load(prepareModelRequest(plan, input(metric, from), { now: H0 + 10 * HOUR }));
  return { complete: s!.complete, incompleteBefore: s!.incompleteBefore };
}

describe('complete and incompleteBefore of a model series', () => {
  it('complete when every version it reads is backfilled', async () => {
    expect(await seriesOf('revenue', H0, {})).toEqual({ complete: true, incompleteBefore: null });
  });

  it('incomplete when the range starts before the backfilled time; complete when it starts after', async () => {
    const cov = { 'revenue@1': H0 + HOUR };
    expect(await seriesOf('revenue', H0, cov)).toEqual({ complete: false, incompleteBefore: H0 + HOUR });
    expect(await seriesOf('revenue', H0 + HOUR, cov)).toEqual({ complete: true, incompleteBefore: H0 + HOUR });
  });

  it('a formula is as incomplete as its least backfilled operand', async () => {
    const cov = { 'revenue@1': H0 + HOUR, 'active_users@1': H0 + 3 * HOUR };
    expect(await seriesOf('arpu', H0 + 2 * HOUR, cov)).toEqual({ complete: false, incompleteBefore: H0 + 3 * HOUR });
    expect(await seriesOf('revenue', H0 + 2 * HOUR, cov)).toEqual({ complete: true, incompleteBefore: H0 + HOUR });
  });
});

describe('coverage feed', () => {
  it('loads before serving, polls while incomplete, stops once complete, keeps the last known state on errors', async () => {
    vi.useFakeTimers();
    try {
      const answers: Array<Map<string, number | null> | Error> = [
        new Map([['revenue@1', H0], ['purchases@1', null]]),
        new Error('ClickHouse down'),
        new Map([['revenue@1', null]]),
      ];
      const asked: string[][] = [];
      const store = {
        incompleteBefore: async (ids: readonly string[]) => {
          asked.push([...ids]);
          const a = answers.shift();
          if (!a) throw new Error('polled after everything was complete');
          if (a instanceof Error) throw a;
          return new Map(ids.map((id) => [id, a.has(id) ? a.get(id)! : null]));
        },
      };
      const feed = await createCoverageFeed({ plan, store, clock: () => H0, logger: createLogger('silent'), pollMs: 1_000 });
      expect(asked[0]).toEqual(plan.measures.map((m) => m.id));
      expect(feed.coverage.incompleteBefore('revenue@1')).toBe(H0);
      expect(feed.coverage.incompleteBefore('purchases@1')).toBeNull();
      await vi.advanceTimersByTimeAsync(1_000); // the error: last known state stays
      expect(asked[1]).toEqual(['revenue@1']);
      expect(feed.coverage.incompleteBefore('revenue@1')).toBe(H0);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(feed.coverage.incompleteBefore('revenue@1')).toBeNull();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(asked).toHaveLength(3);
      feed.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
