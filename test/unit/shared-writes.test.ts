/**
 * A worker's partitions share their flush writes (src/aggregate/shared-writes.ts): calls
 * in one turn of the event loop become one statement holding every caller's rows, each
 * row keeping its source; each aggregator's checkpoint is saved only after its windows
 * are written; a failed shared statement fails every flush that shared it and saves no
 * progress.
 */
import { describe, expect, it } from 'vitest';
import type { WindowEvent } from '../../src/contracts/event.ts';
import { createAggregator, type AggregatorDeps } from '../../src/aggregate/aggregator.ts';
import { coalesce, createSharedWrites } from '../../src/aggregate/shared-writes.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { StoredProgress } from '../../src/storage/progress-store.ts';
import type { WindowWrite } from '../../src/storage/window-store.ts';

const T0 = Date.UTC(2026, 10, 25, 12);

describe('coalesce', () => {
  it('runs the calls of one turn together, later calls apart, and fails only the calls that shared a failed run', async () => {
    const runs: number[][] = [];
    const run = coalesce<number>(async (items) => {
      runs.push(items);
      if (items.includes(13)) throw new Error('bad batch');
    });
    await Promise.all([run(1), run(2), run(3)]);
    await run(4);
    const failed = [run(13), run(14), run(5)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    expect(await Promise.all(failed)).toEqual(['bad batch', 'bad batch', 'bad batch']);
    await run(6);
    expect(runs).toEqual([[1, 2, 3], [4], [13, 14, 5], [6]]);
    expect(runs.at(-1)).toEqual([6]);
  });
});

/** Two aggregators over the same shared stores, with storage fakes that log every statement. */
function harness(failWindows = false) {
  const log: string[] = [];
  const windowWrites: WindowWrite[][] = [];
  const progress: StoredProgress[][] = [];
  const base = {
    windowStore: {
      writeMany: async (writes: WindowWrite[]) => {
        log.push(`windows ${writes.map((w) => w.source).join(',')}`);
        windowWrites.push(writes);
        if (failWindows) throw new Error('storage down');
      },
      loadStored: async () => new Map(),
    },
    progressStore: {
      saveMany: async (ps: StoredProgress[]) => {
        log.push(`progress ${ps.map((p) => p.source).join(',')}`);
        progress.push(ps);
      },
    },
  };
  const stores = createSharedWrites(base as unknown as Parameters<typeof createSharedWrites>[0]);
  const aggregator = (source: string) =>
    createAggregator({
      source,
      eventLog: { loadWindows: async () => new Map() },
      windowStore: stores.windowStore,
      progressStore: stores.progressStore,
      bus: { publishProgress: async () => undefined, publishWindows: async () => undefined },
      clock: () => T0 + 1_000,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      allowedLatenessMs: 60_000,
      flushIntervalMs: 3_600_000,
    } as unknown as AggregatorDeps);
  return { log, windowWrites, progress, aggregator };
}

const event = (tenantId: string, n: number): WindowEvent => ({
  key: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  eventType: 'signup',
  userId: `u${n}`,
  tenantId,
  currency: 'USD',
  traceId: 'ab'.repeat(16),
  timestamp: T0 + n,
});

describe('shared flush writes', () => {
  it('two partitions flushing together write one statement per table, rows tagged with their source, progress after windows', async () => {
    const h = harness();
    const a = h.aggregator('kafka:t:0');
    const b = h.aggregator('kafka:t:1');
    a.ingest([event('ta', 1), event('ta', 2)], 2);
    b.ingest([event('tb', 3)], 7);
    await Promise.all([a.flush(), b.flush()]);
    expect(h.log).toEqual(['windows kafka:t:0,kafka:t:1', 'progress kafka:t:0,kafka:t:1']);
    const [[wa, wb]] = h.windowWrites as [[WindowWrite, WindowWrite]];
    expect(wa.updates.map((u) => [u.tenantId, u.signups])).toEqual([['ta', 2]]);
    expect(wb.updates.map((u) => [u.tenantId, u.signups])).toEqual([['tb', 1]]);
    expect(h.progress[0]!.map((p) => [p.source, p.checkpointSeq])).toEqual([
      ['kafka:t:0', 2],
      ['kafka:t:1', 7],
    ]);
    // A flush alone is a statement of its own.
    a.ingest([event('ta', 4)], 9);
    await a.flush();
    expect(h.log.slice(2)).toEqual(['windows kafka:t:0', 'progress kafka:t:0']);
  });

  it('a failed shared statement fails both flushes and saves no progress', async () => {
    const h = harness(true);
    const a = h.aggregator('kafka:t:0');
    const b = h.aggregator('kafka:t:1');
    a.ingest([event('ta', 1)], 1);
    b.ingest([event('tb', 2)], 2);
    const outcomes = await Promise.allSettled([a.flush(), b.flush()]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(h.log).toEqual(['windows kafka:t:0,kafka:t:1']);
    expect(h.progress).toEqual([]);
  });
});
