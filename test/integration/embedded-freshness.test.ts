/**
 * Issue 2, done-when 6: dataAsOf advances for an idle tenant; isStale turns true
 * once the aggregator has been stopped for longer than STALE_AFTER_MS, and false
 * again after it restarts. Real clock, real timers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

const STALE_AFTER_MS = 1_500;
let t: TestApp;
let token: string;
type F = { dataAsOf: string; ageMs: number; isStale: boolean; staleThresholdMs: number; lastEventAt: string | null };
const freshness = async (): Promise<F> => (await t.gql<{ freshness: F }>(token, '{ freshness { dataAsOf ageMs isStale staleThresholdMs lastEventAt } }')).data!.freshness;

beforeAll(async () => {
  t = await startTestApp({ label: 'fresh', env: { STALE_AFTER_MS: String(STALE_AFTER_MS), FLUSH_INTERVAL_MS: '100' } });
  token = await t.token('idle-tenant', 'read');
});
afterAll(() => t?.app.stop());

describe('freshness', () => {
  it('advances dataAsOf for a tenant that sends nothing', async () => {
    const first = await waitFor(async () => {
      const f = await freshness();
      return Date.parse(f.dataAsOf) > 0 ? f : null;
    });
    expect(first.lastEventAt).toBeNull();
    expect(first.isStale).toBe(false);
    expect(first.staleThresholdMs).toBe(STALE_AFTER_MS);
    await waitFor(async () => Date.parse((await freshness()).dataAsOf) > Date.parse(first.dataAsOf), { what: 'dataAsOf to advance' });
  });

  it('turns stale when the aggregator stops for longer than STALE_AFTER_MS, and live again after restart', async () => {
    await t.app.aggregator.stop();
    const stoppedAt = Date.now();
    const frozen = (await freshness()).dataAsOf;
    expect((await freshness()).isStale).toBe(false);
    const stale = await waitFor(async () => {
      const f = await freshness();
      return f.isStale ? f : null;
    }, { timeoutMs: STALE_AFTER_MS + 3_000, what: 'isStale' });
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(STALE_AFTER_MS - 150); // not before the threshold
    expect(stale.dataAsOf).toBe(frozen); // nothing processed while stopped
    expect(stale.ageMs).toBeGreaterThan(STALE_AFTER_MS);

    t.app.aggregator.start();
    await waitFor(async () => !(await freshness()).isStale, { timeoutMs: 5_000, what: 'fresh again' });
  });

  it('reports the newest event time once the tenant sends events', async () => {
    const ingest = await t.token('idle-tenant', 'ingest');
    const at = Date.now() - 5_000;
    const res = await t.post(ingest, JSON.stringify([{ eventType: 'signup', userId: 'u1', tenantId: 'idle-tenant', currency: 'EUR', traceId: 'ab'.repeat(16), timestamp: at }]));
    expect(res.status).toBe(202);
    await waitFor(async () => (await freshness()).lastEventAt === new Date(at).toISOString(), { what: 'lastEventAt' });
  });
});
