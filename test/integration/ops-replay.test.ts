/**
 * Issue 6, done-when 4: a replay over a range rebuilds the same windows as the live
 * path, compared bucket by bucket (stored minute windows, and GraphQL minutes and hours
 * with their distinct-user merges), after windows were lost or corrupted; a replay of
 * intact data, or a second replay, changes nothing (not even a revision).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { replayWindows, type ReplayResult } from '../../src/aggregate/replay.ts';
import { modelEventOf } from '../../src/aggregate/model-cells.ts';
import { MicroSum } from '../../src/contracts/decimal.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createEventLog } from '../../src/storage/event-log.ts';
import { createMetricWindowStore } from '../../src/storage/metric-window-store.ts';
import { createProgressStore } from '../../src/storage/progress-store.ts';
import { createReplayReader, type StoredWindowRow } from '../../src/storage/replay-reader.ts';
import { createWindowStore } from '../../src/storage/window-store.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { ALL_METRICS, generateDataset, type GeneratedEvent } from '../helpers/dataset.ts';
import { waitFor } from '../helpers/wait.ts';

const TENANT = 'opsreplay';
const CURRENCIES = ['USD', 'EUR'];
let t: TestApp;
let token: string;
const now = Date.now();
const start = Math.floor((now - 25 * 60_000) / 60_000) * 60_000;
const end = start + 20 * 60_000;

beforeAll(async () => {
  t = await startTestApp({ label: 'ops-replay', env: { FLUSH_INTERVAL_MS: '100', ALLOWED_LATENESS_MS: '1000' } });
  token = await t.token(TENANT);
});
afterAll(async () => {
  await t?.app.stop();
});

function services() {
  const db = t.app.db;
  return {
    reader: createReplayReader(db),
    windowStore: createWindowStore(db),
    replay: (from: number, to: number): Promise<ReplayResult & { progress: [number, number][] }> => {
      const progress: [number, number][] = [];
      return replayWindows(
        { eventLog: createEventLog(db, t.app.plan), windowStore: createWindowStore(db), progressStore: createProgressStore(db), reader: createReplayReader(db), plan: t.app.plan, metricStore: createMetricWindowStore(db), logger: createLogger('silent') },
        { tenantId: TENANT, from, to, chunkSize: 7, onProgress: (d, n) => void progress.push([d, n]) },
      ).then((r) => ({ ...r, progress }));
    },
  };
}

/** Every metric × currency at MINUTE and HOUR through GraphQL, as one comparable object. */
async function graphqlSnapshot(): Promise<Record<string, unknown>> {
  const from = new Date(start - 60 * 60_000).toISOString();
  const to = new Date(end + 60 * 60_000).toISOString();
  const fields = ALL_METRICS.flatMap((m) =>
    CURRENCIES.flatMap((c) =>
      ['MINUTE', 'HOUR'].map((g) => `${m}_${c}_${g}: series(input: { metric: ${m}, currency: "${c}", from: "${from}", to: "${to}", granularity: ${g} }) { total points { start value final } }`),
    ),
  );
  const res = await t.gql(token, `{ ${fields.join('\n')} }`);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

/** metric_windows FINAL of the tenant in range: one line per cell (window, slice, metric@version, dims → value or distinct count). */
async function storedCells(): Promise<Record<string, string>> {
  const rows = await t.app.db.query({
    queryId: 'test.stored_cells',
    sql: `SELECT toUnixTimestamp(window_start) * 1000 AS ws, slice, metric, metric_version AS v, dims, toString(value) AS value, finalizeAggregation(users) AS users
          FROM metric_windows FINAL WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}`,
    params: { tenant: TENANT, from: start / 1000, to: end / 1000 },
    row: z.object({ ws: z.coerce.number(), slice: z.string(), metric: z.string(), v: z.coerce.number(), dims: z.array(z.string()), value: z.string(), users: z.coerce.number() }),
  });
  const out: Record<string, string> = {};
  for (const r of rows) out[`${r.ws}|${r.slice}|${r.metric}@${r.v}|${r.dims.join(',')}`] = `${BigInt(MicroSum.micros(r.value))}/${r.users}`;
  return out;
}

/** The same, brute force from the logged events (each key once per window) and the plan's measures. */
async function bruteCells(): Promise<Record<string, string>> {
  const plan = t.app.plan;
  const events = (await createEventLog(t.app.db, plan).loadRange(start, end)).filter((e) => e.tenantId === TENANT);
  const seen = new Set<string>();
  const acc = new Map<string, { sum: bigint; users: Set<string> }>();
  for (const e of events) {
    const ws = Math.floor(e.timestamp / 60_000) * 60_000;
    if (seen.has(`${ws}|${e.currency}|${e.key}`)) continue;
    seen.add(`${ws}|${e.currency}|${e.key}`);
    const me = modelEventOf(e);
    for (const m of plan.measures) {
      if (!m.matches(me)) continue;
      const key = `${ws}|${e.currency}|${m.name}@${m.version}|${m.dimsOf(me).map((d) => d ?? '').join(',')}`;
      const a = acc.get(key) ?? { sum: 0n, users: new Set<string>() };
      acc.set(key, a);
      const value = m.kind === 'count' ? null : m.valueOf(me);
      if (m.kind === 'count') a.sum += 1_000_000n;
      else if (m.kind === 'sum' && value !== null) a.sum += BigInt(MicroSum.micros(value));
      else if (value !== null) a.users.add(value);
    }
  }
  return Object.fromEntries([...acc].map(([k, a]) => [k, `${a.sum}/${a.users.size}`]));
}

/** What must match bucket by bucket: values, finality and the distinct-user state (not the revision). */
const valuesOf = (rows: StoredWindowRow[]): unknown[] => rows.map(({ revision: _r, lastEventAt: _l, traceSample: _t, ...rest }) => rest);

describe('tilecast replay', () => {
  const dataset = generateDataset({ seed: 61, tenants: [TENANT], currencies: CURRENCIES, count: 1_500, start, spanMs: end - start, allowedLatenessMs: 1_000, duplicateRate: 0.05, invalidRate: 0, lateRate: 0.05, usersPerTenant: 120 });
  /** Trace ids of the events of one window: any sample of them is a right sample. */
  const tracesOf = (w: StoredWindowRow) => new Set(dataset.events.filter((e) => e.currency === w.currency && Math.floor(e.timestamp / 60_000) * 60_000 === w.windowStart).map((e) => e.traceId));
  let live: StoredWindowRow[];
  let liveGraphql: Record<string, unknown>;

  it('the live path first: twenty minutes with duplicates and late events, all windows final', async () => {
    const { items } = dataset;
    for (let i = 0; i < items.length; i += 100) {
      const res = await t.post(token, JSON.stringify(items.slice(i, i + 100).map((x) => x.body as GeneratedEvent)));
      expect(res.status).toBe(202);
    }
    const { reader } = services();
    const logged = await reader.loggedWindows(TENANT, start, end);
    expect(logged.length).toBeGreaterThan(30);
    live = await waitFor(async () => {
      await t.app.aggregator.flush();
      const rows = await reader.storedWindows(TENANT, start, end);
      return rows.length === logged.length && rows.every((r) => r.final) ? rows : null;
    }, { what: 'every window written and final' });
    for (const r of live) expect(r.usersInState).toBe(r.activeUsers);
    liveGraphql = await graphqlSnapshot();
  });

  it('over intact data it writes nothing', async () => {
    const r = await services().replay(start, end);
    expect(r).toMatchObject({ windows: live.length, rewritten: 0, unchanged: live.length });
    expect(r.events).toBe(1_500);
    expect(r.progress.at(-1)).toEqual([live.length, live.length]);
    expect(await services().reader.storedWindows(TENANT, start, end)).toEqual(live);
  });

  it('rebuilds lost and corrupted windows bucket by bucket as the live path had them, and a second run changes nothing', async () => {
    const { reader, windowStore } = services();
    // Lose minutes 5..9 of both currencies, and corrupt one window outside them with a higher revision.
    const lostFrom = start + 5 * 60_000;
    const lostTo = start + 10 * 60_000;
    await t.app.db.command({
      queryId: 'test.lose_windows',
      sql: `ALTER TABLE windows DELETE WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')} SETTINGS mutations_sync = 1`,
      params: { tenant: TENANT, from: lostFrom / 1000, to: lostTo / 1000 },
    });
    const lost = live.filter((w) => w.windowStart >= lostFrom && w.windowStart < lostTo);
    expect(lost.length).toBeGreaterThan(0);
    const victim = live.find((w) => w.windowStart >= lostTo)!;
    await windowStore.write(
      [{ ...victim, windowEnd: victim.windowStart + 60_000, revision: victim.revision + 1, final: true, kind: 'correction', revenue: '999999.5', purchases: 1, signups: 0, upgrades: 0, churns: 0, activeUsers: 1 }],
      () => ['intruder'],
      victim.source,
    );
    const damaged = await reader.storedWindows(TENANT, start, end);
    expect(damaged.length).toBe(live.length - lost.length);
    // Series read the model's cells (metric_windows), which this damage to `windows` leaves intact.
    expect(await graphqlSnapshot()).toEqual(liveGraphql);

    const first = await services().replay(start, end);
    expect(first).toMatchObject({ windows: live.length, rewritten: lost.length + 1, unchanged: live.length - lost.length - 1 });
    const rebuilt = await reader.storedWindows(TENANT, start, end);
    expect(valuesOf(rebuilt)).toEqual(valuesOf(live));
    for (const w of rebuilt) {
      const before = live.find((l) => l.currency === w.currency && l.windowStart === w.windowStart)!;
      if (lost.includes(before)) expect(w.revision).toBe(before.revision + 1); // above its cells, which survived
      else if (before === victim) expect(w.revision).toBe(victim.revision + 2); // above the corrupt one
      else expect(w.revision).toBe(before.revision); // untouched
      // A sample of the same size drawn from the window's own events (which ones depends on the order events were applied).
      expect(w.traceSample.length).toBe(before.traceSample.length);
      for (const id of w.traceSample) expect(tracesOf(w).has(id)).toBe(true);
    }
    expect(await graphqlSnapshot()).toEqual(liveGraphql);
    // The rewritten windows' cells were rewritten at their new revision: metric_windows still equals the log.
    expect(await storedCells()).toEqual(await bruteCells());

    const second = await services().replay(start, end);
    expect(second).toMatchObject({ rewritten: 0, unchanged: live.length });
    expect(await reader.storedWindows(TENANT, start, end)).toEqual(rebuilt);
  });

  it('rebuilds lost and overwritten cells of metric_windows from the log, and a second run changes nothing', async () => {
    const { reader } = services();
    const brute = await bruteCells();
    expect(Object.keys(brute).length).toBeGreaterThan(30);
    expect(await storedCells()).toEqual(brute);
    const before = await reader.storedWindows(TENANT, start, end);
    // Lose every cell of minutes 12..13, and overwrite one window of minute 15 with a wrong snapshot at a higher row_version.
    const lostFrom = start + 12 * 60_000;
    const lostTo = start + 14 * 60_000;
    await t.app.db.command({
      queryId: 'test.lose_cells',
      sql: `ALTER TABLE metric_windows DELETE WHERE tenant_id = {tenant:String} AND window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')} SETTINGS mutations_sync = 2`,
      params: { tenant: TENANT, from: lostFrom / 1000, to: lostTo / 1000 },
    });
    const lost = before.filter((w) => w.windowStart >= lostFrom && w.windowStart < lostTo);
    expect(lost.length).toBeGreaterThan(0);
    const victim = before.find((w) => w.windowStart === start + 15 * 60_000)!;
    const count = t.app.plan.measures.find((m) => m.kind === 'count')!;
    const cell = Object.keys(brute).find((k) => k.startsWith(`${victim.windowStart}|${victim.currency}|${count.name}@${count.version}|`))!;
    const dims = cell.split('|')[3]!.split(',');
    await createMetricWindowStore(t.app.db).write(
      [{ update: { ...victim, revision: victim.revision + 1, final: true }, cells: [{ metric: count.name, version: count.version, dims, value: '4242', users: [] }], events: 1 }],
      victim.source,
    );
    const damaged = await storedCells();
    expect(damaged).not.toEqual(brute);
    expect(damaged[cell]).toBe(`${4242n * 1_000_000n}/0`);

    const first = await services().replay(start, end);
    expect(first).toMatchObject({ windows: before.length, rewritten: lost.length + 1, unchanged: before.length - lost.length - 1 });
    expect(await storedCells()).toEqual(brute);
    const after = await reader.storedWindows(TENANT, start, end);
    expect(valuesOf(after)).toEqual(valuesOf(before));
    // The victim's windows row is written above the wrong cells' revision.
    expect(after.find((w) => w.currency === victim.currency && w.windowStart === victim.windowStart)!.revision).toBe(victim.revision + 2);
    expect(await graphqlSnapshot()).toEqual(liveGraphql);

    const second = await services().replay(start, end);
    expect(second).toMatchObject({ rewritten: 0, unchanged: before.length });
    expect(await storedCells()).toEqual(brute);
  });

  it('leaves windows past their aggregator\'s watermark to it', async () => {
    const res = await t.post(token, JSON.stringify([{ eventType: 'signup', userId: 'late-comer', tenantId: TENANT, currency: 'USD', traceId: 'f'.repeat(31) + '1', timestamp: Date.now() }]));
    expect(res.json).toMatchObject({ accepted: 1, duplicates: 0 });
    await t.app.aggregator.flush();
    const r = await services().replay(start, Date.now() + 3_600_000);
    expect(r).toMatchObject({ windows: live.length, open: 1, rewritten: 0 });
  });
});
