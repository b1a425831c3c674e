/**
 * aggregator.flush(): when it resolves, everything ingested before the call is written —
 * also when the call arrives while another flush runs (that one may have collected before
 * the caller's events), and a whole burst of such callers shares one follow-up flush.
 */
import { describe, expect, it } from 'vitest';
import type { WindowEvent } from '../../src/contracts/event.ts';
import type { WindowUpdate } from '../../src/contracts/window.ts';
import { createAggregator, type AggregatorDeps } from '../../src/aggregate/aggregator.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

const T0 = Date.UTC(2026, 10, 25, 12);

const event = (n: number): WindowEvent => ({
  key: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  eventType: 'signup',
  userId: `u${n}`,
  tenantId: 'flush-t',
  currency: 'USD',
  traceId: 'ab'.repeat(16),
  timestamp: T0 + n,
});

/** Storage fakes: every window write is recorded and held until released. */
function harness() {
  const writes: WindowUpdate[][] = [];
  const gates: (() => void)[] = [];
  const deps = {
    source: 'http',
    eventLog: { loadWindows: async () => new Map() },
    windowStore: {
      write: (updates: readonly WindowUpdate[]) => {
        writes.push([...updates]);
        return new Promise<void>((resolve) => gates.push(resolve));
      },
      loadStored: async () => new Map(),
    },
    progressStore: { save: async () => undefined },
    bus: { publishProgress: async () => undefined, publishWindows: async () => undefined },
    clock: () => T0 + 1_000,
    logger: createLogger('silent'),
    metrics: createMetrics(),
    allowedLatenessMs: 60_000,
    flushIntervalMs: 3_600_000,
  } as unknown as AggregatorDeps;
  /** Resolves once `ready()` holds (checked every millisecond, at most 2 s). */
  const until = async (ready: () => boolean, what: string) => {
    const deadline = Date.now() + 2_000;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const release = async () => {
    await until(() => gates.length > 0, 'a window write');
    gates.shift()!();
  };
  const signupsWritten = () => writes.flat().reduce((n, u) => Math.max(n, u.signups), 0);
  return { aggregator: createAggregator(deps), writes, release, until, signupsWritten };
}

describe('aggregator.flush', () => {
  it('a call during a running flush resolves only after a flush that includes what was ingested before it', async () => {
    const h = harness();
    h.aggregator.ingest([event(1)], 1);
    const first = h.aggregator.flush();
    await h.until(() => h.writes.length === 1, 'the first flush to collect and write'); // it holds event 1 only

    h.aggregator.ingest([event(2)], 2);
    let secondDone = false;
    const second = h.aggregator.flush().then(() => (secondDone = true));
    const third = h.aggregator.flush(); // arrives meanwhile too: shares the follow-up
    await h.release();
    await first;
    expect(secondDone).toBe(false); // the first flush did not hold event 2
    await h.release();
    await Promise.all([second, third]);
    expect(h.writes).toHaveLength(2); // one follow-up flush for both callers
    expect(h.signupsWritten()).toBe(2); // the window with both signups was written
  });
});
