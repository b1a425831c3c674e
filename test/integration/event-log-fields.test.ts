/**
 * The event log keeps every declared field: models/saas.yaml events posted over embedded
 * HTTP (TILECAST_MODEL) land in `events` with their `fields` map, come back from the log
 * (arrivals, loadWindows) with the fields the live event had — so every measure of the
 * model `matches`, `dimsOf` and `valueOf` them the same — and still do after a restart,
 * where the dedupe rule judges repeats against them. A row logged before the map existed
 * reads as Event v1's fields.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiApp } from '../../src/app/api.ts';
import { createApp } from '../../src/app/app.ts';
import { createWorkerApp } from '../../src/app/worker.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { WindowEvent } from '../../src/contracts/event.ts';
import { ModelFileError } from '../../src/model/compile.ts';
import { fieldCodec } from '../../src/model/event-fields.ts';
import { eventKey } from '../../src/model/identity.ts';
import type { ModelPlan } from '../../src/model/types.ts';
import { createEventLog } from '../../src/storage/event-log.ts';
import { RowBinaryWriter } from '../../src/storage/row-binary.ts';
import { z } from 'zod';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const TENANT = `fields${process.pid}`;
const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 20 * MINUTE) / MINUTE) * MINUTE;
const ENV = { TILECAST_MODEL: 'models/saas.yaml', FLUSH_INTERVAL_MS: '200' };
const trace = (n: number) => `${String(n).padStart(8, '0')}${'cd'.repeat(12)}`;
const id = (n: number) => `5a1c2c3e-8f9a-4b6c-9d0e-${String(n).padStart(12, '0')}`;
const base = (n: number) => ({ eventId: id(n), userId: `u${n % 3}`, tenantId: TENANT, currency: n % 2 ? 'EUR' : 'USD', traceId: trace(n), timestamp: T0 + n * 20_000 });

/** Every event type and field kind of saas.yaml: enums, a pattern string, decimals (string and number), a boolean, optional fields absent. */
const EVENTS: Record<string, unknown>[] = [
  { ...base(1), eventType: 'trial_started', plan: 'starter', country: 'DE' },
  { ...base(2), eventType: 'trial_started', plan: 'pro' },
  { ...base(3), eventType: 'subscription_started', plan: 'pro', country: 'FR', amount: '49.90', from_trial: true },
  { ...base(4), eventType: 'subscription_started', plan: 'enterprise', amount: 1200, from_trial: false },
  { ...base(5), eventType: 'renewal', plan: 'pro', country: 'FR', amount: '49.9' },
  { ...base(6), eventType: 'refund', plan: 'pro', amount: '10.000001', reason: 'duplicate' },
  { ...base(7), eventType: 'refund', plan: 'starter', country: 'US', amount: '5' },
  { ...base(8), eventType: 'churn', plan: 'enterprise', reason: 'service_issue' },
  { ...base(9), eventType: 'churn', plan: 'starter' },
  // A derived key (no eventId).
  { ...base(10), eventId: undefined, eventType: 'renewal', plan: 'starter', amount: '9.99' },
];

/** What each posted event is once validated: its key and declared fields (the live event). */
const live = (plan: ModelPlan) =>
  new Map(
    EVENTS.map((body) => {
      const r = plan.validate(JSON.parse(JSON.stringify(body)));
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      return [eventKey(r.event), r.event] as const;
    }),
  );

const eventsRow = z.object({ event_key: z.string(), event_type: z.string(), currency: z.string(), amount: z.string().nullable(), fields: z.record(z.string(), z.string()) });

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ label: 'fields', env: ENV });
}, 120_000);
afterAll(async () => {
  await t?.app.stop();
});

const refsOf = (events: Iterable<{ currency?: string; timestamp: number; fields: Readonly<Record<string, unknown>> }>) =>
  [...events].map((e) => ({ tenantId: TENANT, currency: String(e.fields.currency ?? ''), windowStart: Math.floor(e.timestamp / MINUTE) * MINUTE }));

async function loaded(plan: ModelPlan, db: TestApp['app']['db']): Promise<Map<string, WindowEvent>> {
  const log = createEventLog(db, plan);
  const windows = await log.loadWindows(refsOf(live(plan).values()));
  return new Map([...windows.values()].flat().map((e) => [e.key, e]));
}

/** Every measure's answers for an event: what aggregation reads of it. */
const answers = (plan: ModelPlan, e: Parameters<ModelPlan['measures'][number]['matches']>[0]) => plan.measures.map((m) => [m.id, m.matches(e), m.dimsOf(e), m.valueOf(e)]);

describe('the event log keeps the declared fields (models/saas.yaml over embedded HTTP)', () => {
  it('accepts every event and logs each declared field in the fields map, as text', async () => {
    expect(t.app.plan.name).toBe('saas-metrics');
    const res = await t.post(await t.token(TENANT, 'ingest'), JSON.stringify(EVENTS));
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ accepted: EVENTS.length, duplicates: 0, rejected: [] });

    const rows = await t.app.db.query({
      queryId: 'test.event_fields',
      sql: 'SELECT event_key, event_type, currency, toString(amount) AS amount, fields FROM events WHERE tenant_id = {t:String} ORDER BY event_time_ms',
      params: { t: TENANT },
      row: eventsRow,
    });
    expect(rows).toHaveLength(EVENTS.length);
    expect(rows[2]).toEqual({ event_key: id(3), event_type: 'subscription_started', currency: 'EUR', amount: '49.9', fields: { currency: 'EUR', plan: 'pro', country: 'FR', amount: '49.9', from_trial: 'true' } });
    expect(rows[3]!.fields).toEqual({ currency: 'USD', plan: 'enterprise', amount: '1200', from_trial: 'false' });
    expect(rows[7]).toEqual({ event_key: id(8), event_type: 'churn', currency: 'USD', amount: null, fields: { currency: 'USD', plan: 'enterprise', reason: 'service_issue' } });
    const byKey = live(t.app.plan);
    const { textOf } = fieldCodec(t.app.plan);
    for (const r of rows) expect(r.fields, r.event_key).toEqual(Object.fromEntries(Object.entries(byKey.get(r.event_key)!.fields!).map(([k, v]) => [k, textOf(v)])));
  });

  it('loadWindows and arrivals give back the live fields, typed: every measure answers the same', async () => {
    const expected = live(t.app.plan);
    const fromWindows = await loaded(t.app.plan, t.app.db);
    const fromArrivals = await createEventLog(t.app.db, t.app.plan).arrivals({ tenants: [TENANT], from: T0 - 60 * MINUTE });
    expect(fromWindows.size).toBe(EVENTS.length);
    expect(fromArrivals).toHaveLength(EVENTS.length);
    expect(fromWindows.get(id(3))!.fields).toEqual({ currency: 'EUR', plan: 'pro', country: 'FR', amount: '49.9', from_trial: true });
    for (const e of [...fromWindows.values(), ...fromArrivals]) {
      const l = expected.get(e.key)!;
      expect(e.fields, e.key).toEqual(l.fields);
      expect([e.eventType, e.userId, e.traceId, e.timestamp, e.currency]).toEqual([l.eventType, l.userId, l.traceId, l.timestamp, l.fields.currency]);
      expect(answers(t.app.plan, { ...l, fields: e.fields!, key: e.key }), e.key).toEqual(answers(t.app.plan, { ...l, key: e.key }));
    }
    // The trial conversion (from_trial: true, a boolean) is seen in the loaded event too.
    const conversions = t.app.plan.metric('trial_conversions')!;
    expect(conversions.kind !== 'formula' && [...fromWindows.values()].filter((e) => conversions.matches({ ...expected.get(e.key)!, fields: e.fields!, key: e.key })).map((e) => e.key)).toEqual([id(3)]);
  });

  it('after a restart the log still has them, and repeats are judged against them', async () => {
    await t.app.stop();
    const app = await createApp({ config: loadConfig({ DATA_DIR: t.dataDir, PORT: '0', LOG_LEVEL: 'silent', ...ENV }) });
    const { url } = await app.start();
    t = { ...t, app, url };

    const fromWindows = await loaded(app.plan, app.db);
    const expected = live(app.plan);
    expect(new Map([...fromWindows].map(([k, e]) => [k, e.fields]))).toEqual(new Map([...expected].map(([k, e]) => [k, e.fields])));

    // The same events again: duplicates; a reused key with another plan (same columns): a conflict.
    const token = await app.tokens.mint({ tenantId: TENANT, scope: 'ingest', ttlSeconds: 600 });
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([...EVENTS, { ...EVENTS[4], plan: 'enterprise' }]),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 0, duplicates: EVENTS.length, rejected: [{ index: EVENTS.length, reason: 'duplicate_key_conflict' }] });
  }, 120_000);

  it('a row logged before the fields map (Event v1 columns only) reads as their fields', async () => {
    const ts = T0 + 5 * MINUTE;
    // Written as a pre-fields release did: no `fields` (nor `pos`) column.
    const body = new RowBinaryWriter([
      ['tenant_id', 'String'],
      ['currency', 'LowCardinality(String)'],
      ['window_start', "DateTime('UTC')"],
      ['event_key', 'String'],
      ['event_type', 'LowCardinality(String)'],
      ['user_id', 'String'],
      ['amount', 'Nullable(Decimal(38, 6))'],
      ['trace_id', 'String'],
      ['event_time_ms', 'Int64'],
      ['source', 'LowCardinality(String)'],
      ['seq', 'UInt64'],
    ]);
    body.string(`${TENANT}-v1`);
    body.string('EUR');
    body.uint32(Math.floor(ts / MINUTE) * 60);
    body.string(id(99));
    body.string('purchase');
    body.string('u1');
    body.nullableDecimal128('12.500000', 6);
    body.string(trace(99));
    body.int64(ts);
    body.string('test-legacy');
    body.int64(1);
    body.endRow();
    await t.app.db.insertRowBinary({ queryId: 'test.legacy_row', table: 'events', body, settings: { insert_deduplication_token: `legacy-${TENANT}` } });
    const windows = await createEventLog(t.app.db, t.app.plan).loadWindows([{ tenantId: `${TENANT}-v1`, currency: 'EUR', windowStart: Math.floor(ts / MINUTE) * MINUTE }]);
    const [e] = [...windows.values()].flat();
    expect(e).toMatchObject({ key: id(99), currency: 'EUR', amount: '12.5', fields: { currency: 'EUR', amount: '12.5' } });
  });
});

describe('a bad model', () => {
  it('stops start, api and worker before anything opens, with every error of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilecast-bad-model-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'model: bad\nevents:\n  e: {}\nmetrics:\n  - { name: x, version: 1, unit: count, sum: nope }\n');
    const dataDir = join(dir, 'data');
    const env = { TILECAST_MODEL: file, DATA_DIR: dataDir, LOG_LEVEL: 'silent', KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1' };
    for (const start of [() => createApp({ config: loadConfig(env) }), () => createApiApp({ config: loadConfig(env) }), () => createWorkerApp({ config: loadConfig(env) })]) {
      const err = await start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelFileError);
      expect((err as ModelFileError).message).toContain(`${file}:5:46 metrics[0].sum: unknown field "nope" in sum`);
    }
    expect(readdirSync(dir)).toEqual(['bad.yaml']); // no data directory was opened
  });
});
