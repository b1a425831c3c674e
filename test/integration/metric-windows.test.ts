/**
 * metric_windows and metric_windows_hourly written at ingest from models/saas.yaml, against
 * a brute-force computation from the events: a seeded random stream (plans, countries past
 * the budget, missing fields, late events to evicted windows, repeated keys) fed to a real
 * aggregator over chdb, which crashes twice on the way — once between two flushes, once
 * in a flush after writing the cells — and is rebuilt from the event log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAggregator, type Aggregator, type AggregatorDeps } from '../../src/aggregate/aggregator.ts';
import { windowStartOf } from '../../src/aggregate/window-engine.ts';
import { modelEventOf } from '../../src/aggregate/model-cells.ts';
import { loadConfig } from '../../src/config/index.ts';
import { canonicalDecimal, fromMicros, toMicros } from '../../src/contracts/decimal.ts';
import type { WindowEvent } from '../../src/contracts/event.ts';
import { openStorage } from '../../src/app/storage.ts';
import { requireModel } from '../../src/model/compile.ts';
import { OTHER_VALUE, type ModelPlan } from '../../src/model/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { ClickHouse } from '../../src/storage/clickhouse.ts';
import { createEventLog } from '../../src/storage/event-log.ts';
import { createMetricWindowStore, type MetricWindowStore } from '../../src/storage/metric-window-store.ts';
import { createProgressStore } from '../../src/storage/progress-store.ts';
import { createWindowStore } from '../../src/storage/window-store.ts';
import { freshDataDir } from '../helpers/app.ts';
import { prng } from '../helpers/dataset.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';

const LATENESS = 10_000;
const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20, 9, 30);
const SOURCE = 'http';
const COUNTRIES = Array.from({ length: 56 }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`);

let db: ClickHouse;
let plan: ModelPlan;
const metrics = createMetrics();

beforeAll(async () => {
  const config = loadConfig({ DATA_DIR: freshDataDir('metric-windows'), LOG_LEVEL: 'silent' });
  ({ db, plan } = await openStorage({ config, model: await requireModel('models/saas.yaml'), logger: createLogger('silent'), metrics, role: 'embedded' }));
});
afterAll(() => db?.close());

/** The event log in chdb (it keeps the declared fields), appended as the logged sink does. */
function eventLog() {
  const log = createEventLog(db, plan);
  return Object.assign(log, { appendBatch: (events: readonly WindowEvent[], seq: number) => log.append(events, { source: SOURCE, seq, token: `${SOURCE}:${seq}` }) });
}

/** A saas stream: the first events of each tenant name every country once (so the budget fills first come), then random ones. */
function stream(seed: number) {
  const r = prng(seed);
  const types = [...plan.eventTypes.keys()];
  const out: WindowEvent[] = [];
  let t = T0;
  for (let i = 0; i < 2400; i++) {
    const tenantId = r.pick(['acme', 'globex']);
    const eventType = r.pick(types);
    const spec = plan.eventTypes.get(eventType)!;
    t += r.int(0, 4_000);
    const late = r.next() < 0.04;
    const timestamp = late ? t - r.int(20 * MIN, 80 * MIN) : t - r.int(0, LATENESS / 2);
    const country = i < 120 ? COUNTRIES[Math.floor(i / 2) % COUNTRIES.length]! : r.pick(COUNTRIES);
    const currency = r.pick(['USD', 'EUR']);
    const fields: Record<string, string | boolean> = { currency, plan: r.pick(['starter', 'pro', 'enterprise']) };
    if (r.next() < 0.85) fields.country = country;
    if (spec.fields.has('amount')) fields.amount = `${r.int(0, 999)}.${String(r.int(0, 999_999)).padStart(6, '0')}`.replace(/\.?0+$/, '') || '1';
    if (spec.fields.has('from_trial') && r.next() < 0.7) fields.from_trial = r.next() < 0.5;
    if (spec.fields.has('reason') && r.next() < 0.8) fields.reason = r.pick(['requested', 'duplicate', 'fraud', 'service_issue']);
    if (fields.amount === '0') fields.amount = '0.5';
    const amount = typeof fields.amount === 'string' ? { amount: fields.amount } : {};
    out.push({ key: `k-${seed}-${i}`, eventType, userId: `u${r.int(1, 25)}`, tenantId, currency, ...amount, traceId: 'ab'.repeat(16), timestamp, fields });
  }
  return { events: out, r };
}

type Acc = { value: bigint; users: Set<string> };
/** Brute force: first arrival of each key, kept values first come per tenant and dimension, every measure's cells by minute and by hour. */
function bruteForce(events: readonly WindowEvent[]) {
  const minutes = new Map<string, Acc>();
  const hours = new Map<string, Acc>();
  const kept = new Map<string, Set<string>>();
  const seen = new Set<string>();
  const store = (dim: string, tenant: string, v: string | null): string => {
    if (v === null) return '';
    const d = plan.dimensions.get(dim)!;
    if (d.rejectOverBudget) return v;
    const set = kept.get(`${tenant}/${dim}`) ?? kept.set(`${tenant}/${dim}`, new Set()).get(`${tenant}/${dim}`)!;
    if (set.has(v) || set.size < d.maxValuesPerTenant) return (set.add(v), v);
    return OTHER_VALUE;
  };
  const add = (map: Map<string, Acc>, key: string, delta: bigint, user: string | null) => {
    const a = map.get(key) ?? map.set(key, { value: 0n, users: new Set() }).get(key)!;
    a.value += delta;
    if (user !== null) a.users.add(user);
  };
  for (const e of events) {
    if (seen.has(`${e.tenantId}/${e.key}`)) continue;
    seen.add(`${e.tenantId}/${e.key}`);
    const me = modelEventOf(e);
    for (const m of plan.measures) {
      if (!m.matches(me)) continue;
      const dims = m.dimsOf(me).map((v, i) => store(m.by[i]!, e.tenantId, v));
      const v = m.valueOf(me);
      const delta = m.kind === 'count' ? toMicros('1') : m.kind === 'sum' && v !== null ? toMicros(v) : 0n;
      const user = m.kind === 'distinct' ? v : null;
      const minute = windowStartOf(e.timestamp);
      add(minutes, JSON.stringify([e.tenantId, m.id, minute, dims, e.currency]), delta, user);
      add(hours, JSON.stringify([e.tenantId, m.id, Math.floor(minute / HOUR) * HOUR, dims]), delta, user);
    }
  }
  const distinct = new Set(plan.measures.filter((m) => m.kind === 'distinct').map((m) => m.id));
  const render = (map: Map<string, Acc>) =>
    [...map].map(([k, a]) => `${k} ${distinct.has(String((JSON.parse(k) as unknown[])[1])) ? `users=${a.users.size}` : fromMicros(a.value)}`).sort();
  return { minutes: render(minutes), hours: render(hours), kept };
}

const row = z.object({ tenant_id: z.string(), metric: z.string(), metric_version: z.coerce.number(), at: z.coerce.number(), dims: z.array(z.string()), slice: z.string().optional(), value: z.string(), users: z.coerce.number(), final: z.coerce.number() });
async function stored(table: 'metric_windows' | 'metric_windows_hourly') {
  const minute = table === 'metric_windows';
  const rows = await db.query({
    queryId: 'test.metric_windows',
    sql: `SELECT tenant_id, metric, metric_version, toUnixTimestamp(${minute ? 'window_start' : 'hour_start'}) * 1000 AS at, dims,
                 ${minute ? 'slice,' : ''} toString(value) AS value, finalizeAggregation(users) AS users, final
          FROM ${minute ? 'metric_windows' : 'metric_windows_hourly'} FINAL`,
    row,
  });
  const text = rows.map((r) => {
    const key = minute ? [r.tenant_id, `${r.metric}@${r.metric_version}`, r.at, r.dims, r.slice] : [r.tenant_id, `${r.metric}@${r.metric_version}`, r.at, r.dims];
    const distinct = plan.metric(r.metric, r.metric_version)!.kind === 'distinct';
    return `${JSON.stringify(key)} ${distinct ? `users=${r.users}` : canonicalDecimal(r.value)}`;
  });
  return { text: text.sort(), finals: rows.map((r) => r.final) };
}

/** An aggregator over chdb and `log`; `metricStore` may be wrapped (to fail a step). */
function aggregatorOf(log: ReturnType<typeof eventLog>, clock: () => number, metricStore: MetricWindowStore): Aggregator {
  return createAggregator({
    source: SOURCE,
    eventLog: log,
    windowStore: createWindowStore(db),
    progressStore: createProgressStore(db),
    metricStore,
    plan,
    bus: { publishProgress: async () => undefined, publishWindows: async () => undefined } as unknown as AggregatorDeps['bus'],
    clock,
    logger: createLogger('silent'),
    metrics,
    allowedLatenessMs: LATENESS,
    flushIntervalMs: 3_600_000,
  });
}

describe('metric_windows from models/saas.yaml', () => {
  it('equal a brute-force computation from the events, across two crashes and late events to restored windows', async () => {
    const seed = testSeed();
    await withSeed(seed, async () => {
      const { events, r } = stream(seed);
      const log = eventLog();
      let now = T0;
      const real = createMetricWindowStore(db);
      let failCells = false;
      // A crash in the middle of a flush: the cells' hours are not rolled up, `windows` is not written.
      const store: MetricWindowStore = { ...real, rollupHours: (...a) => (failCells ? Promise.reject(new Error('crash mid-flush')) : real.rollupHours(...a)) };
      let agg = aggregatorOf(log, () => now, store);
      await agg.recover();
      const batches = Math.ceil(events.length / 40);
      const crashBetween = r.int(8, 20);
      const crashInCells = r.int(30, batches - 5);
      const fed: WindowEvent[] = [];
      for (let b = 0, seq = 1; b < batches; b++, seq++) {
        const batch = events.slice(b * 40, b * 40 + 40);
        // A few repeats of earlier keys (also of long-evicted windows): they count once.
        const repeats = b > 3 ? [fed[r.int(0, fed.length - 1)]!, fed[r.int(0, fed.length - 1)]!].map((e) => ({ ...e })) : [];
        now = Math.max(now, ...batch.map((e) => e.timestamp)) + 1_000;
        await log.appendBatch(batch, seq);
        fed.push(...batch);
        agg.ingest([...batch, ...repeats], seq);
        if (b === crashBetween) {
          agg.release(); // crash: this batch is logged, never flushed
          agg = aggregatorOf(log, () => now, store);
          await agg.recover();
          continue;
        }
        failCells = b === crashInCells;
        const flushed = await agg.flush().then(() => true, () => false);
        if (!flushed) {
          failCells = false;
          agg.release(); // crash after the cells were written, before their hours and `windows`
          agg = aggregatorOf(log, () => now, store);
          await agg.recover();
          await agg.flush();
        }
      }
      now += 2 * HOUR; // idle: every window turns final
      await agg.flush();
      await agg.stop();

      const expected = bruteForce(fed);
      const minutes = await stored('metric_windows');
      const hours = await stored('metric_windows_hourly');
      expect(minutes.text).toEqual(expected.minutes);
      expect(hours.text).toEqual(expected.hours);
      expect(new Set([...minutes.finals, ...hours.finals])).toEqual(new Set([1]));
      expect(expected.minutes.some((k) => k.includes(OTHER_VALUE))).toBe(true);
      expect(expected.minutes.some((k) => k.includes(',""'))).toBe(true); // a null slice

      const keptRows = await real.loadKept();
      for (const tenant of ['acme', 'globex']) {
        expect(new Set(keptRows.filter((k) => k.tenantId === tenant && k.dimension === 'country').map((k) => k.value))).toEqual(expected.kept.get(`${tenant}/country`));
      }
    });
  }, 240_000);
});
