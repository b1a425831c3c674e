/**
 * "First come, first kept" (DESIGN.md "Cardinality budgets") holds in arrival order even
 * where the aggregator applies events in another order: a late event buffered for a window
 * no longer in memory (applied at its restore, after events that arrived behind it), and a
 * batch logged but not flushed before a crash (restored window by window, keys sorted).
 * models/saas.yaml keeps a budget of countries per tenant: all places but one are taken
 * first, so the next two new countries race for the last place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAggregator, type Aggregator, type AggregatorDeps } from '../../src/aggregate/aggregator.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { WindowEvent } from '../../src/contracts/event.ts';
import { openStorage } from '../../src/app/storage.ts';
import { requireModel } from '../../src/model/compile.ts';
import type { ModelPlan } from '../../src/model/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { createEventLog } from '../../src/storage/event-log.ts';
import { createMetricWindowStore } from '../../src/storage/metric-window-store.ts';
import { createProgressStore } from '../../src/storage/progress-store.ts';
import { createWindowStore } from '../../src/storage/window-store.ts';
import { freshDataDir } from '../helpers/app.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20, 9, 30);
/** `n` two-letter country codes: AA, AB, … (none starts with Z, which the racing values use). */
const countries = (n: number) => Array.from({ length: n }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`);

let db: ClickHouse;
let plan: ModelPlan;
const metrics = createMetrics();

beforeAll(async () => {
  const config = loadConfig({ DATA_DIR: freshDataDir('budget-order'), LOG_LEVEL: 'silent' });
  ({ db, plan } = await openStorage({ config, model: await requireModel('models/saas.yaml'), logger: createLogger('silent'), metrics, role: 'embedded' }));
});
afterAll(() => db?.close());
const budget = () => plan.dimensions.get('country')!.maxValuesPerTenant;

function trial(tenantId: string, key: string, timestamp: number, country: string): WindowEvent {
  return { key, eventType: 'trial_started', userId: 'u1', tenantId, currency: 'USD', traceId: 'ab'.repeat(16), timestamp, fields: { currency: 'USD', plan: 'pro', country } };
}

/** Aggregators of `source` over chdb with the saas plan; `clock` drives event-time finality. */
function harness(source: string, clock: () => number) {
  const log = createEventLog(db, plan);
  let seq = 0;
  const make = (): Aggregator =>
    createAggregator({
      source,
      eventLog: log,
      windowStore: createWindowStore(db),
      progressStore: createProgressStore(db),
      metricStore: createMetricWindowStore(db),
      plan,
      bus: { publishProgress: async () => undefined, publishWindows: async () => undefined } as unknown as AggregatorDeps['bus'],
      clock,
      logger: createLogger('silent'),
      metrics,
      allowedLatenessMs: 10_000,
      flushIntervalMs: 3_600_000,
    });
  /** Logs a batch, then feeds it (the logged sink's order). */
  const feed = async (agg: Aggregator, events: readonly WindowEvent[]): Promise<void> => {
    seq += 1;
    await log.append(events, { source, seq, token: `${source}:${seq}` });
    agg.ingest(events, seq);
  };
  return {
    make,
    feed,
    /** Takes every kept place of `tenant`'s countries but one (events from `at` on, 1 ms apart), and flushes. */
    async fillAllButOne(agg: Aggregator, tenant: string, at: number): Promise<void> {
      await feed(agg, countries(budget() - 1).map((c, i) => trial(tenant, `${tenant}-${i}`, at + i, c)));
      await agg.flush();
    },
  };
}

async function keptCountries(tenantId: string): Promise<Set<string>> {
  const rows = await createMetricWindowStore(db).loadKept();
  return new Set(rows.filter((r) => r.tenantId === tenantId && r.dimension === 'country').map((r) => r.value));
}

describe('the last kept place goes to the value that arrived first', () => {
  it('when that value came with a late event to a window no longer in memory', async () => {
    const tenant = 'late-first';
    let now = T0;
    const h = harness('order-late', () => now);
    const agg = h.make();
    await agg.recover();
    await h.fillAllButOne(agg, tenant, T0);
    now = T0 + 2 * HOUR; // the first minute turns final and leaves memory
    await agg.flush();
    await agg.flush();
    // One batch: a late event to the first minute (arrives first), then an on-time one.
    await h.feed(agg, [trial(tenant, `${tenant}-late`, T0 + 100, 'ZL'), trial(tenant, `${tenant}-now`, now, 'ZN')]);
    await agg.flush();
    await agg.stop();
    const kept = await keptCountries(tenant);
    expect(kept.size).toBe(budget());
    expect(kept.has('ZL')).toBe(true);
    expect(kept.has('ZN')).toBe(false);
  });

  it('when a crash hit before the batch holding both was flushed', async () => {
    const tenant = 'crash-first';
    const now = T0 + 10 * HOUR;
    const h = harness('order-crash', () => now);
    let agg = h.make();
    await agg.recover();
    await h.fillAllButOne(agg, tenant, now - 1_000);
    // Same window; the key of the first to arrive sorts after the other's.
    await h.feed(agg, [trial(tenant, `${tenant}-zz`, now, 'ZB'), trial(tenant, `${tenant}-aa`, now, 'ZA')]);
    agg.release(); // crash: the batch is logged, never flushed
    agg = h.make();
    await agg.recover();
    await agg.flush();
    await agg.stop();
    const kept = await keptCountries(tenant);
    expect(kept.size).toBe(budget());
    expect(kept.has('ZB')).toBe(true);
    expect(kept.has('ZA')).toBe(false);
  });

  it('the log gives back what a source logged after a checkpoint in arrival order, page by page', async () => {
    const log = createEventLog(db, plan);
    const source = 'order-pages';
    const batches = [
      ['zz-1', 'aa-1', 'mm-1'],
      ['zz-2', 'aa-2'],
      ['zz-3', 'aa-3', 'mm-3', 'bb-3'],
    ];
    for (const [i, keys] of batches.entries()) {
      await log.append(keys.map((k) => trial('pages', k, T0 + i, 'AA')), { source, seq: i + 1, token: `${source}:${i + 1}` });
    }
    const read = async (seq: number, pageSize: number) => {
      const pages: string[][] = [];
      for await (const page of log.loggedSince(source, seq, pageSize)) pages.push(page.map((e) => e.key));
      return pages;
    };
    expect(await read(0, 2)).toEqual([['zz-1', 'aa-1'], ['mm-1', 'zz-2'], ['aa-2', 'zz-3'], ['aa-3', 'mm-3'], ['bb-3']]);
    expect((await read(1, 100)).flat()).toEqual(['zz-2', 'aa-2', 'zz-3', 'aa-3', 'mm-3', 'bb-3']);
    expect(await read(3, 100)).toEqual([]);
  });
});
