/**
 * One duplicate rule on every path. The same stream — exact repeats, an eventId reused
 * in another minute and in another currency, derived keys (no eventId) with repeats and
 * a conflicting reuse, late events and late repeats, an event older than the retained
 * log — is sent:
 *
 *   A. over HTTP to the embedded app (`tilecast start`);
 *   B. straight to Kafka (single records, a JSON array record, an NDJSON record without
 *      its header), aggregated by a `tilecast worker` process;
 *   C. over HTTP to `tilecast api`, which produces to Kafka for the same worker.
 *
 * All three must give the same windows and the same counts: counted, duplicates, dead
 * letters by reason — in the 202 bodies, in the Prometheus counters, and at the worker.
 */
import { mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp, type ApiApp } from '../../src/app/api.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTopics, kafkaBrokers, openClickHouse, produce, readWindows, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';
import type { StreamRecord, WindowValues } from './kafka-stream.ts';

const RUN = `paths${process.pid}${Date.now().toString(36)}`;
const TOPIC = `tilecast.test.${RUN}`;
const DLQ = `${TOPIC}.dlq`;
const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 30 * MINUTE) / MINUTE) * MINUTE;
const ENV = { ALLOWED_LATENESS_MS: '2000', FLUSH_INTERVAL_MS: '200', RETENTION_EVENTS_DAYS: '1' };

/** The stream for one tenant, in arrival order. Same eventIds for every tenant: the scope is per tenant. */
function stream(tenantId: string): Record<string, unknown>[] {
  const id = (n: number) => `6f1c2c3e-8f9a-4b6c-9d0e-${String(n).padStart(12, '0')}`;
  const trace = (n: number) => `${String(n).padStart(8, '0')}${'ab'.repeat(12)}`;
  const ev = (n: number, o: Record<string, unknown> = {}) => ({
    eventId: id(n),
    eventType: n % 4 === 0 ? 'signup' : 'purchase',
    userId: `u${n % 5}`,
    tenantId,
    ...(n % 4 === 0 ? {} : { amount: `${n}.${String(n % 100).padStart(2, '0')}` }),
    currency: n % 3 === 0 ? 'EUR' : 'USD',
    traceId: trace(n),
    timestamp: T0 + 10 * MINUTE + n * 7_000,
    ...o,
  });
  const derived = (n: number, o: Record<string, unknown> = {}) => {
    const { eventId: _id, ...rest } = ev(100 + n, o);
    return rest;
  };
  const out: Record<string, unknown>[] = [];
  for (let n = 1; n <= 30; n++) out.push(ev(n));
  out.push(ev(3), ev(7), ev(7)); // exact repeats
  out.push(ev(5, { timestamp: ev(5).timestamp + MINUTE })); // same eventId, another minute
  out.push(ev(6, { currency: 'JPY', amount: '600' })); // same eventId, another currency
  for (let n = 1; n <= 8; n++) out.push(derived(n)); // derived keys
  out.push(derived(2), derived(5)); // their exact repeats
  out.push(derived(3, { amount: '999.99' })); // derived key reused with other content
  for (let n = 31; n <= 40; n++) out.push(ev(n, { timestamp: T0 + n * 1_000 })); // late: before every window so far
  out.push(ev(33, { timestamp: T0 + 33 * 1_000 }), ev(2)); // a late repeat, an old repeat
  out.push(ev(50, { timestamp: Date.now() - 3 * 86_400_000 })); // older than the retained log
  out.push({ ...ev(51), amount: 'lots' }); // invalid
  return out;
}

interface Counts {
  accepted: number;
  duplicates: number;
  rejected: Record<string, number>;
}
const EXPECTED_PER_TENANT: Counts = { accepted: 48, duplicates: 7, rejected: { duplicate_key_conflict: 3, too_old: 1, schema_violation: 1 } };
const times = (c: Counts, n: number): Counts => ({
  accepted: c.accepted * n,
  duplicates: c.duplicates * n,
  rejected: Object.fromEntries(Object.entries(c.rejected).map(([k, v]) => [k, v * n])),
});

/** POSTs a tenant's stream in batches of 7 (repeats fall within and across requests); sums the 202 bodies. */
async function postStream(url: string, token: string, tenantId: string): Promise<Counts> {
  const items = stream(tenantId);
  const sum: Counts = { accepted: 0, duplicates: 0, rejected: {} };
  for (let i = 0; i < items.length; i += 7) {
    const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(items.slice(i, i + 7)) });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; duplicates: number; rejected: { reason: string }[] };
    sum.accepted += body.accepted;
    sum.duplicates += body.duplicates;
    for (const r of body.rejected) sum.rejected[r.reason] = (sum.rejected[r.reason] ?? 0) + 1;
  }
  return sum;
}

/** The tenant's stream as Kafka records: single events, then one JSON array record, one NDJSON record without a header, singles again. */
function records(tenantId: string): StreamRecord[] {
  const items = stream(tenantId).map((e) => JSON.stringify(e));
  const single = (v: string): StreamRecord => ({ key: tenantId, value: v, kind: 'valid' });
  return [
    ...items.slice(0, 20).map(single),
    { key: tenantId, value: `[${items.slice(20, 32).join(',')}]`, kind: 'batch' },
    { key: tenantId, value: items.slice(32, 45).join('\n'), kind: 'batch' },
    ...items.slice(45).map(single),
  ];
}

/** Windows keyed without the tenant (tenants are renamed per path). */
function byRole(windows: Map<string, WindowValues>, tenants: Record<string, string>): Map<string, WindowValues> {
  return new Map([...windows].map(([k, v]) => [k.replace(/^[^|]+/, (t) => tenants[t] ?? t), v]));
}

let embedded: TestApp;
let chdb: ChdbServer;
let db: ClickHouse;
let worker: WorkerProcess;
let api: ApiApp;
let apiUrl: string;
const A = { a: `${RUN}-ea`, b: `${RUN}-eb` };
const B = { a: `${RUN}-ka`, b: `${RUN}-kb` };
const C = { a: `${RUN}-ha`, b: `${RUN}-hb` };

beforeAll(async () => {
  const brokers = await kafkaBrokers();
  chdb = await startChdbServer();
  db = await openClickHouse(chdb.url);
  await createTopics(brokers, [
    { topic: TOPIC, partitions: 2 },
    { topic: DLQ, partitions: 1 },
  ]);
  const redis = testRedisUrl();
  const env = { ...ENV, KAFKA_BROKERS: brokers, KAFKA_TOPIC: TOPIC, KAFKA_DLQ_TOPIC: DLQ, KAFKA_GROUP_ID: `${RUN}-workers`, CLICKHOUSE_URL: chdb.url, REDIS_URL: redis, REDIS_CHANNEL_PREFIX: RUN };
  [embedded, worker, api] = await Promise.all([
    startTestApp({ env: ENV, label: 'paths' }),
    startWorker('w', { ...env, KAFKA_SESSION_TIMEOUT_MS: '10000' }),
    createApiApp({ config: loadConfig({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'tilecast-paths-api-')), PORT: '0', LOG_LEVEL: 'silent' }) }),
  ]);
  apiUrl = (await api.start()).url;
}, 180_000);

afterAll(async () => {
  await api?.stop();
  await worker?.stop();
  await embedded?.app.stop();
  await db?.close();
  await chdb?.stop();
}, 120_000);

describe('one ingest path, one duplicate rule', () => {
  it('the same stream gives the same windows and counts over embedded HTTP, straight Kafka and HTTP through tilecast api', async () => {
    const brokers = await kafkaBrokers();
    // A: embedded HTTP.
    const fromEmbedded = [
      await postStream(embedded.url, await embedded.token(A.a, 'ingest'), A.a),
      await postStream(embedded.url, await embedded.token(A.b, 'ingest'), A.b),
    ];
    expect(fromEmbedded).toEqual([EXPECTED_PER_TENANT, EXPECTED_PER_TENANT]);
    // B: straight to Kafka. C: HTTP through tilecast api (its 202 bodies judge by the same rule).
    await produce(brokers, TOPIC, [...records(B.a), ...records(B.b)], { chunk: 20 });
    const token = (t: string) => api.tokens.mint({ tenantId: t, scope: 'ingest', ttlSeconds: 600 });
    const fromApi = [await postStream(apiUrl, await token(C.a), C.a), await postStream(apiUrl, await token(C.b), C.b)];
    expect(fromApi).toEqual([EXPECTED_PER_TENANT, EXPECTED_PER_TENANT]);

    // The worker saw B's items and C's counted events (plus C never forwarded its duplicates and rejects).
    const perTenant = stream('x').length;
    const forwarded = EXPECTED_PER_TENANT.accepted;
    const expectWorker = times(EXPECTED_PER_TENANT, 2);
    await waitFor(async () => (await worker.metric('tilecast_kafka_records_total', { outcome: 'consumed' })) === 2 * perTenant + 2 * forwarded, {
      timeoutMs: 120_000,
      what: 'the worker to consume both streams',
    });
    const workerCount = async (outcome: string, reason?: string) => worker.metric('tilecast_kafka_records_total', reason ? { outcome, reason } : { outcome });
    await waitFor(async () => (await workerCount('accepted')) === expectWorker.accepted + 2 * forwarded, { timeoutMs: 60_000, what: 'accepted count' });
    expect(await workerCount('duplicate')).toBe(expectWorker.duplicates);
    for (const [reason, n] of Object.entries(expectWorker.rejected)) expect(await workerCount('dead_lettered', reason)).toBe(n);

    // The embedded app's Prometheus counters say what its 202 bodies said.
    const scrape = await (await fetch(`${embedded.url}/metrics`)).text();
    const counter = (outcome: string, reason = '') =>
      Number(new RegExp(`^tilecast_ingest_items_total\\{outcome="${outcome}",reason="${reason}"\\} (\\S+)$`, 'm').exec(scrape)?.[1] ?? 0);
    expect(counter('accepted')).toBe(expectWorker.accepted);
    expect(counter('duplicate')).toBe(expectWorker.duplicates);
    expect(counter('rejected', 'duplicate_key_conflict')).toBe(expectWorker.rejected.duplicate_key_conflict);

    // Identical windows on every path.
    await embedded.app.aggregator.flush();
    const roles = (o: { a: string; b: string }) => ({ [o.a]: 'a', [o.b]: 'b' });
    const a = byRole(await readWindows(embedded.app.db, Object.values(A)), roles(A));
    expect(a.size).toBeGreaterThan(10);
    await waitFor(async () => {
      const b = byRole(await readWindows(db, Object.values(B)), roles(B));
      const c = byRole(await readWindows(db, Object.values(C)), roles(C));
      return JSON.stringify([...b].sort()) === JSON.stringify([...a].sort()) && JSON.stringify([...c].sort()) === JSON.stringify([...a].sort());
    }, { timeoutMs: 60_000, what: 'Kafka windows equal to the embedded ones' }).catch(async (err: unknown) => {
      const b = byRole(await readWindows(db, Object.values(B)), roles(B));
      expect(Object.fromEntries([...b].sort())).toEqual(Object.fromEntries([...a].sort()));
      throw err;
    });
  }, 300_000);

  it('a key reused with other content keeps the first arrival: the reuse is a dead letter with its reason', async () => {
    const tenant = `${RUN}-solo`;
    const token = await embedded.token(tenant, 'ingest');
    const first = { eventId: randomUUID(), eventType: 'purchase', userId: 'u', tenantId: tenant, amount: '10', currency: 'USD', traceId: 'ab'.repeat(16), timestamp: T0 + 20 * MINUTE };
    const r1 = await embedded.post(token, JSON.stringify([first]));
    const r2 = await embedded.post(token, JSON.stringify([{ ...first, amount: '20' }, first]));
    expect(r1.json).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(r2.json).toMatchObject({ accepted: 0, duplicates: 1, rejected: [{ index: 0, reason: 'duplicate_key_conflict' }] });
  });
});
