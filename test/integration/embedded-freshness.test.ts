/**
 * Issue 2, done-when 6: dataAsOf advances for an idle tenant; isStale turns true
 * once the aggregator has been stopped for longer than STALE_AFTER_MS, and false
 * again after it restarts. Real clock, real timers. Issue 16 item 7: sources another
 * deployment left in the progress table (docs/freshness.md) do not hold dataAsOf back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createProgressStore } from '../../src/storage/progress-store.ts';
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

  it('a Kafka partition an earlier distributed run left in the progress table does not hold dataAsOf back after a restart', async () => {
    const dayAgo = Date.now() - 86_400_000;
    await createProgressStore(t.app.db).save({ source: 'kafka:business.events.raw:3', processedThrough: dayAgo, watermark: dayAgo, checkpointSeq: 9 });
    await t.app.stop();
    // The same data directory, started again: every progress row is loaded.
    const app = await createApp({ config: loadConfig({ DATA_DIR: t.dataDir, PORT: '0', LOG_LEVEL: 'silent', STALE_AFTER_MS: String(STALE_AFTER_MS), FLUSH_INTERVAL_MS: '100' }) });
    const { url } = await app.start();
    t = { ...t, app, url };
    const query = async (): Promise<F> => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ freshness { dataAsOf ageMs isStale staleThresholdMs lastEventAt } }' }) });
      return ((await res.json()) as { data: { freshness: F } }).data.freshness;
    };
    // Fresh once the restarted intake has flushed (its own row, loaded from before the stop,
    // is older than STALE_AFTER_MS on a busy machine); the day-old row would keep it stale.
    const f = await waitFor(async () => {
      const x = await query();
      return Date.parse(x.dataAsOf) > Date.now() - 60_000 && !x.isStale ? x : null;
    }, { what: 'dataAsOf of the http source only, not stale' });
    expect(Date.parse(f.dataAsOf)).toBeGreaterThan(dayAgo + 3_600_000);
    expect(app.freshness.dataAsOf()).toBeGreaterThan(dayAgo);
  });
});
