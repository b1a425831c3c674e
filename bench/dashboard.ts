/**
 * Benchmark (not a test): a 12-tile dashboard — 30 days, hourly, each tile with its
 * previous 30 days — over ≥1,000,000 events of one tenant, answered two ways in the same
 * run on the same data:
 *
 *   graphql  one POST /graphql with 12 aliased fields (series, derivedSeries, breakdown,
 *            all with compareTo), served by one ClickHouse read from the model's exact
 *            hourly rollup `metric_windows_hourly` (the range is on whole UTC hours) —
 *            and, as a baseline, the same dashboard starting one minute later, which
 *            `pickSource` must serve from the 1-minute `metric_windows` (same bucket
 *            count, same read shape);
 *   naive    one REST-style request per tile (12 in parallel, like a browser), each
 *            aggregating the raw `events` table (current + previous period in one query).
 *
 * Prints p50/p95 latency of a whole dashboard and ClickHouse reads per dashboard.
 *
 * Loading: events go through the real intake (validation, dedupe lookup, event log) and
 * the aggregator, in-process (`intake.submit`, no HTTP), 20,000 per batch, in event-time
 * order, with a flush after each batch: the same tables a live deployment has, in about a
 * minute or two instead of hours of HTTP posts.
 *
 *   node --import tsx bench/dashboard.ts            # BENCH_EVENTS=1000000 BENCH_RUNS=40
 *
 * Every run ends with the dashboard's totals (purchases, signups, upgrades, churns and
 * USD revenue, both periods) checked against the events it generated; a mismatch fails it.
 *
 * Under `npm run bench` (bench/run.ts) this file is one side of a comparison: it drives
 * the src/ of `--target DIR`, loads its data, answers 'round' commands with the samples of
 * one block of runs per path, and 'finish' with the closing checks.
 *
 * BENCH_DATA_DIR=/some/dir (opt-in) keeps the loaded chdb data there, with the END hour
 * and event count it was generated for (bench-data.json): a rerun with the same
 * BENCH_EVENTS skips the load and measures the same data, for iterating on the read path.
 * Standalone, BENCH_PATHS=model,modelLive measures only those paths, and BENCH_PROFILE=FILE
 * writes a CPU profile of the measured blocks (the in-process API's work included).
 */
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { modelDashboard, modelPaths, type ModelPathName } from './dashboard-model.ts';
import { startProfile } from './harness/profile.ts';
import { percentile } from './harness/stats.ts';
import { serveSide, underHarness } from './harness/side.ts';
import { loadDashboardTarget, targetRoot, type DashboardTarget } from './harness/target.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const BATCH = 20_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TENANT = 'bench';

// ---------------------------------------------------------------- data
const KEPT_DIR = process.env.BENCH_DATA_DIR || undefined;
const KEPT_META = KEPT_DIR ? join(KEPT_DIR, 'bench-data.json') : null;
/** A kept data directory generated for the same event count, if any: its END hour. */
const kept = KEPT_META && existsSync(KEPT_META) ? (JSON.parse(readFileSync(KEPT_META, 'utf8')) as { end: number; events: number }) : null;
if (kept && kept.events !== EVENTS) throw new Error(`${KEPT_DIR} holds ${kept.events} events, not BENCH_EVENTS=${EVENTS}: remove it or change BENCH_EVENTS`);
const END = kept?.end ?? Math.floor(Date.now() / HOUR) * HOUR - HOUR; // a whole hour, in the past
const FROM = END - 30 * DAY;
const PREV_FROM = FROM - 30 * DAY;

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type BenchEvent = { eventType: string; userId: string; tenantId: string; currency: string; amount?: string; traceId: string; timestamp: number };

/** The EVENTS events, in event-time order, from a fixed seed: the same every run. */
function* generate(): Generator<BenchEvent> {
  const rnd = prng(42);
  const step = (END - PREV_FROM) / EVENTS;
  for (let k = 0; k < EVENTS; k++) {
    const x = rnd();
    const eventType = x < 0.5 ? 'purchase' : x < 0.75 ? 'signup' : x < 0.9 ? 'upgrade' : 'churn';
    const c = rnd();
    const currency = c < 0.7 ? 'USD' : c < 0.95 ? 'EUR' : 'JPY';
    const cents = 100 + Math.floor(rnd() * 20_000);
    const e = {
      eventType,
      userId: `u${Math.floor(rnd() * 50_000)}`,
      tenantId: TENANT,
      currency,
      ...(eventType === 'purchase' ? { amount: currency === 'JPY' ? String(cents) : `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}` } : {}),
      traceId: (k + 1).toString(16).padStart(32, '0'),
      timestamp: Math.floor(PREV_FROM + k * step),
    };
    yield e;
  }
}

function* eventBatches() {
  // `value` for checkouts before the one ingest pipeline, `item` for later ones: one workload for both.
  let batch: { raw: string; value: unknown; item: { value: unknown } }[] = [];
  for (const e of generate()) {
    batch.push({ raw: JSON.stringify(e), value: e, item: { value: e } });
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** An exact decimal as an integer number of micro-units (6 fractional digits). */
const micros = (d: string): bigint => {
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(d);
  if (!m) throw new Error(`not a decimal: ${d}`);
  const v = BigInt(m[2]!) * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -v : v;
};

/** What the dashboard's totals must be, counted from the generated events themselves. */
function expectedTotals() {
  const zero = () => ({ purchases: 0n, signups: 0n, upgrades: 0n, churns: 0n, revenueUsd: 0n });
  const t = { current: zero(), previous: zero() };
  const key = { purchase: 'purchases', signup: 'signups', upgrade: 'upgrades', churn: 'churns' } as const;
  for (const e of generate()) {
    const p = e.timestamp >= FROM ? t.current : t.previous;
    p[key[e.eventType as keyof typeof key]] += 1n;
    if (e.amount && e.currency === 'USD') p.revenueUsd += micros(e.amount);
  }
  return t;
}

// ---------------------------------------------------------------- the two ways
const iso = (t: number) => new Date(t).toISOString();
const rangeFrom = (from: number) => `from: "${iso(from)}", to: "${iso(END)}", granularity: HOUR, compareTo: PREVIOUS_PERIOD`;
const range = rangeFrom(FROM);
const tile = 'total points { start value } comparison { total change points { value } }';
const DASHBOARD = `{
  revenueUsd: series(input: { metric: REVENUE, currency: "USD", ${range} }) { ${tile} }
  revenueEur: series(input: { metric: REVENUE, currency: "EUR", ${range} }) { ${tile} }
  purchases: series(input: { metric: PURCHASES, ${range} }) { ${tile} }
  purchasesUsd: series(input: { metric: PURCHASES, currency: "USD", ${range} }) { ${tile} }
  signups: series(input: { metric: SIGNUPS, ${range} }) { ${tile} }
  upgrades: series(input: { metric: UPGRADES, ${range} }) { ${tile} }
  churns: series(input: { metric: CHURNS, ${range} }) { ${tile} }
  activeUsers: series(input: { metric: ACTIVE_USERS, ${range} }) { ${tile} }
  activeUsersUsd: series(input: { metric: ACTIVE_USERS, currency: "USD", ${range} }) { ${tile} }
  arpuUsd: derivedSeries(input: { metric: ARPU, currency: "USD", ${range} }) { ${tile} }
  netUsers: derivedSeries(input: { metric: NET_USER_CHANGE, ${range} }) { ${tile} }
  revenueByCurrency: breakdown(input: { metric: REVENUE, ${range} }) { slices { currency ${tile} } }
}`;

/** The naive tiles: metric expression over raw events, optional currency filter, optional per-currency split. */
const NAIVE_TILES: { name: string; value: string; currency?: string; byCurrency?: boolean }[] = [
  { name: 'revenueUsd', value: "toString(ifNull(sumIf(amount, event_type = 'purchase'), 0))", currency: 'USD' },
  { name: 'revenueEur', value: "toString(ifNull(sumIf(amount, event_type = 'purchase'), 0))", currency: 'EUR' },
  { name: 'purchases', value: "countIf(event_type = 'purchase')" },
  { name: 'purchasesUsd', value: "countIf(event_type = 'purchase')", currency: 'USD' },
  { name: 'signups', value: "countIf(event_type = 'signup')" },
  { name: 'upgrades', value: "countIf(event_type = 'upgrade')" },
  { name: 'churns', value: "countIf(event_type = 'churn')" },
  { name: 'activeUsers', value: 'uniqExact(user_id)' },
  { name: 'activeUsersUsd', value: 'uniqExact(user_id)', currency: 'USD' },
  { name: 'arpuUsd', value: "toString(ifNull(sumIf(amount, event_type = 'purchase'), 0) / greatest(uniqExact(user_id), 1))", currency: 'USD' },
  { name: 'netUsers', value: "toInt64(countIf(event_type = 'signup')) - countIf(event_type = 'churn')" },
  { name: 'revenueByCurrency', value: "toString(ifNull(sumIf(amount, event_type = 'purchase'), 0))", byCurrency: true },
];

const fmt = (ms: number) => ms.toFixed(1).padStart(8);

/** The measured paths: label and the request(s) of one dashboard. */
type PathName = 'hourly' | 'naive' | 'minute' | 'hourly9' | 'minute9' | 'modelOffHour' | 'modelLive' | ModelPathName;

/**
 * Loads the data into a fresh app of `target` (or reuses BENCH_DATA_DIR), checks both
 * ways agree, and returns what measures one block of runs of a path and the closing check.
 */
async function openDashboard(target: DashboardTarget, log: (line: string) => void) {
  const dataDir = KEPT_DIR ? join(KEPT_DIR, 'chdb') : mkdtempSync(join(tmpdir(), 'tilecast-bench-dashboard-'));
  if (KEPT_DIR && !kept) {
    rmSync(dataDir, { recursive: true, force: true }); // a load that never finished
    mkdirSync(KEPT_DIR, { recursive: true });
  }
  const config = target.loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', FLUSH_INTERVAL_MS: '3600000', RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000', CURRENCY_BUDGET: '5' });
  const app = await target.createApp({ config });
  const stops: (() => unknown)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    await app.stop();
    if (!KEPT_DIR) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url } = await app.start();
    const token = await app.tokens.mint({ tenantId: TENANT, scope: 'read', ttlSeconds: 3600 });
    const reads = async () => (await app.metrics.clickhouseQueries.get()).values.filter((v) => v.labels.kind === 'read').reduce((s, v) => s + v.value, 0);
    /** Seconds spent inside ClickHouse calls so far (all query ids). */
    const dbSeconds = async () => (await app.metrics.clickhouseDuration.get()).values.filter((v) => v.metricName?.endsWith('_sum')).reduce((s, v) => s + v.value, 0);

    // ---- load
    let started = performance.now();
    let loadRate = 0;
    if (kept) log(`reusing ${KEPT_DIR} (${EVENTS.toLocaleString('en')} events generated for END ${iso(END)})`);
    else {
      let accepted = 0;
      for (const batch of eventBatches()) {
        const r = await app.intake.submit(TENANT, batch);
        accepted += r.accepted;
        await app.aggregator.flush();
        if ((accepted / BATCH) % 10 === 0) log(`loaded ${accepted.toLocaleString('en')} events…`);
      }
      await app.aggregator.flush();
      const loadS = (performance.now() - started) / 1000;
      loadRate = accepted / loadS;
      log(`loaded ${accepted.toLocaleString('en')} events (60 days, 1 tenant, 3 currencies, 50k users) in ${loadS.toFixed(0)} s = ${Math.round(loadRate).toLocaleString('en')} events/s`);
      if (accepted !== EVENTS) throw new Error(`the intake accepted ${accepted} of ${EVENTS} events`);
      if (KEPT_META) writeFileSync(KEPT_META, JSON.stringify({ end: END, events: EVENTS }));
    }
    // Measure at rest: the background merges a 1M-event load leaves running would
    // otherwise share the 2 cores with the first block of runs (up to 2 minutes).
    started = performance.now();
    const merging = async () => (await app.db.query({ queryId: 'bench.merges', sql: 'SELECT count() AS n FROM system.merges', row: z.object({ n: z.coerce.number() }) }))[0]!.n;
    while ((await merging()) > 0 && performance.now() - started < 120_000) await new Promise((r) => setTimeout(r, 500));
    log(`background merges settled after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const [sizes] = await app.db.query({
      queryId: 'bench.sizes',
      sql: `SELECT (SELECT count() FROM events WHERE tenant_id = {t:String}) AS events, (SELECT count() FROM windows FINAL WHERE tenant_id = {t:String}) AS windows,
                   (SELECT count() FROM system.parts WHERE table = 'windows' AND active) AS window_parts,
                   (SELECT count() FROM metric_windows FINAL WHERE tenant_id = {t:String}) AS cells,
                   (SELECT count() FROM system.parts WHERE table = 'metric_windows' AND active) AS cell_parts,
                   (SELECT count() FROM metric_windows_hourly FINAL WHERE tenant_id = {t:String}) AS hours,
                   (SELECT count() FROM system.parts WHERE table = 'metric_windows_hourly' AND active) AS hour_parts`,
      params: { t: TENANT },
      row: z.object({
        events: z.coerce.number(),
        windows: z.coerce.number(),
        window_parts: z.coerce.number(),
        cells: z.coerce.number(),
        cell_parts: z.coerce.number(),
        hours: z.coerce.number(),
        hour_parts: z.coerce.number(),
      }),
    });
    log(`tables: ${sizes!.events.toLocaleString('en')} rows in events, ${sizes!.windows.toLocaleString('en')} one-minute windows (${sizes!.window_parts} active parts), ${sizes!.cells.toLocaleString('en')} minute cells in metric_windows (${sizes!.cell_parts} active parts), ${sizes!.hours.toLocaleString('en')} hour cells in metric_windows_hourly (${sizes!.hour_parts} active parts)`);

    // ---- graphql
    type Tile = { total: string; points: unknown[]; comparison?: { total: string } };
    const graphql = async (query = DASHBOARD) => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { data?: Record<string, Tile>; errors?: unknown };
      if (body.errors || !body.data) throw new Error(`dashboard failed: ${JSON.stringify(body.errors)}`);
      return body.data;
    };

    // ---- naive: a tiny REST service, one request per tile, each scanning raw events
    const naiveServer = createServer((req, res) => {
      const tileName = new URL(req.url ?? '/', 'http://x').searchParams.get('tile');
      const t = NAIVE_TILES.find((x) => x.name === tileName);
      if (!t) return void res.writeHead(404).end();
      const params: Record<string, unknown> = { tenant: TENANT, prev: PREV_FROM, from: FROM, to: END, ...(t.currency ? { cur: t.currency } : {}) };
      const where = `tenant_id = {tenant:String} AND window_start >= fromUnixTimestamp64Milli({prev:Int64}, 'UTC') AND window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')${t.currency ? ' AND currency = {cur:String}' : ''}`;
      const period = "if(window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC'), 'current', 'previous')";
      app.db
        .query({
          queryId: `bench.naive.${t.name}`,
          sql: `SELECT ${period} AS period, ${t.byCurrency ? 'currency' : "''"} AS cur, toInt64(toUnixTimestamp(toStartOfHour(window_start))) * 1000 AS hour, toString(${t.value}) AS value
                FROM events WHERE ${where} GROUP BY GROUPING SETS ((period, cur, hour), (period, cur)) ORDER BY period, cur, hour`,
          params,
          row: z.object({ period: z.string(), cur: z.string(), hour: z.coerce.number(), value: z.string() }),
        })
        .then((rows) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(rows));
        })
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
    await new Promise<void>((r) => naiveServer.listen(0, '127.0.0.1', r));
    stops.push(() => naiveServer.close());
    const naiveUrl = `http://127.0.0.1:${(naiveServer.address() as AddressInfo).port}`;
    const naive = () => Promise.all(NAIVE_TILES.map(async (t) => [t.name, await (await fetch(`${naiveUrl}/tile?tile=${t.name}`)).json()] as const));

    /** The hourly dashboard's totals against the generated events' (both periods): mismatches, if any. */
    const expected = expectedTotals();
    const checkTotals = async (query = DASHBOARD) => {
      const d = await graphql(query);
      const wrong: string[] = [];
      const names = { purchases: 'purchases', signups: 'signups', upgrades: 'upgrades', churns: 'churns', revenueUsd: 'revenueUsd' } as const;
      for (const [field, key] of Object.entries(names)) {
        const got = { current: micros(d[field]!.total), previous: micros(d[field]!.comparison!.total) };
        for (const period of ['current', 'previous'] as const) {
          const want = key === 'revenueUsd' ? expected[period][key] : expected[period][key] * 1_000_000n;
          if (got[period] !== want) wrong.push(`${field} ${period}: ${d[field]![period === 'current' ? 'total' : 'comparison']} ≠ expected ${want} micro-units`);
        }
      }
      return { wrong, summary: `purchases ${d.purchases!.total}/${d.purchases!.comparison!.total}, signups ${d.signups!.total}/${d.signups!.comparison!.total}, upgrades ${d.upgrades!.total}/${d.upgrades!.comparison!.total}, churns ${d.churns!.total}/${d.churns!.comparison!.total}, revenue USD ${d.revenueUsd!.total}/${d.revenueUsd!.comparison!.total} (30 days / previous 30 days)` };
    };

    // Sanity: both ways agree on the whole-range purchases, and the totals are the events'.
    const g = await graphql(DASHBOARD);
    const n = Object.fromEntries(await naive()) as Record<string, { period: string; hour: number; value: string }[]>;
    const naiveTotal = n.purchases!.find((r) => r.period === 'current' && r.hour === 0)?.value;
    log(`check: purchases over 30 days — graphql ${g.purchases!.total}, naive ${naiveTotal}; points per series ${g.purchases!.points.length}`);
    if (g.purchases!.total !== naiveTotal) throw new Error('the two ways disagree');
    const first = await checkTotals();
    if (first.wrong.length) throw new Error(`totals differ from the events sent: ${first.wrong.join('; ')}`);
    log(`check: totals equal the events sent — ${first.summary}`);
    // The same tiles on the model's path (metricSeries), with the series cache.
    const MODEL = modelDashboard(range);
    for (const state of ['cold', 'warm']) {
      const m = await checkTotals(MODEL);
      if (m.wrong.length) throw new Error(`model dashboard (${state}): totals differ from the events sent: ${m.wrong.join('; ')}`);
    }
    log('check: model dashboard totals equal the events sent, cold and warm');
    // Measured live: 30 days up to the end of the current hour, whose open edge (and the
    // distinct-user tiles over the open range) each request reads from ClickHouse.
    const liveTo = Math.ceil(Date.now() / HOUR) * HOUR;
    const MODEL_LIVE = modelDashboard(`from: "${iso(liveTo - 30 * DAY)}", to: "${iso(liveTo)}", granularity: HOUR, compareTo: PREVIOUS_PERIOD`);
    // The last 30 days up to now, off the hour at both ends: whole hours and minute edges.
    const minuteNow = Math.floor(Date.now() / 60_000) * 60_000;
    const liveNow = minuteNow % HOUR === 0 ? minuteNow - 60_000 : minuteNow;
    const MODEL_LIVE_OFF = modelDashboard(`from: "${iso(liveNow - 30 * DAY)}", to: "${iso(liveNow)}", granularity: HOUR, compareTo: PREVIOUS_PERIOD`);
    // The same dashboard one minute off the hour, so it is served from the 1-minute windows.
    const minuteDashboard = DASHBOARD.replaceAll(range, rangeFrom(FROM + 60_000));
    const m = await graphql(minuteDashboard);
    const sameHours = JSON.stringify(m.revenueUsd!.points.slice(1)) === JSON.stringify(g.revenueUsd!.points.slice(1));
    log(`check: revenue USD from minutes vs rollup, hours 2.. of 30 days equal: ${sameHours}`);
    if (!sameHours) throw new Error('the minute windows and the hourly rollup disagree');
    // Where the time goes: the same dashboard without its 3 distinct-user tiles.
    const noUsers = DASHBOARD.split('\n').filter((l) => !/ACTIVE_USERS|ARPU/.test(l)).join('\n');
    const noUsersMinutes = noUsers.replaceAll(range, rangeFrom(FROM + 60_000));

    const paths: Record<PathName, { label: string; run: () => Promise<unknown> }> = {
      hourly: { label: 'graphql: 1 request, hourly rollup', run: () => graphql(DASHBOARD) },
      naive: { label: 'naive: 12 requests, raw events', run: naive },
      minute: { label: 'graphql: 1 request, minute windows', run: () => graphql(minuteDashboard) },
      hourly9: { label: 'graphql: 9 tiles, no distinct users', run: () => graphql(noUsers) },
      minute9: { label: '  the same 9 tiles, minute windows', run: () => graphql(noUsersMinutes) },
      ...modelPaths(app.seriesCache, () => graphql(MODEL_LIVE)),
      modelOffHour: { label: 'model: cache on, warm, off the hour', run: () => graphql(MODEL_LIVE_OFF) },
      // Events arriving while it is measured: 20 a second into the current hour, flushed each second
      // (their window updates drop the kept open edges they change, as in a live deployment). The
      // trickle runs while this path's blocks run (see measure).
      modelLive: { label: 'model: cache on, warm, 20 events/s live', run: () => graphql(MODEL_LIVE) },
    };
    let live: NodeJS.Timeout | undefined;
    let trickled = 0;
    const startTrickle = () =>
      setInterval(() => {
        const now = Date.now();
        const batch = Array.from({ length: 20 }, (_, i) => {
          const e = { eventType: 'purchase', userId: `live${trickled++ % 500}`, tenantId: TENANT, currency: 'USD', amount: '9.99', traceId: (0xf0000000 + trickled).toString(16).padStart(32, '0'), timestamp: now - i * 10 };
          return { raw: JSON.stringify(e), value: e, item: { value: e } };
        });
        void app.intake.submit(TENANT, batch as never).then(() => app.aggregator.flush()).catch((err: unknown) => log(`live trickle: ${String(err)}`));
      }, 1000).unref();
    const warm = new Set<PathName>();
    /** One block of `runs` dashboards of a path (3 warm-ups before its first block). */
    const measure = async (path: PathName, runs: number) => {
      if (path !== 'modelLive') return measureBlock(path, runs);
      live = startTrickle();
      try {
        return await measureBlock(path, runs);
      } finally {
        clearInterval(live);
        await app.aggregator.flush(); // what the trickle sent is in before anything else is measured
      }
    };
    const measureBlock = async (path: PathName, runs: number) => {
      const p = paths[path];
      if (!warm.has(path)) for (let i = 0; i < 3; i++) await p.run();
      warm.add(path);
      const times: number[] = [];
      const before = await reads();
      const dbBefore = await dbSeconds();
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await p.run();
        times.push(performance.now() - t0);
      }
      return { label: p.label, times, reads: ((await reads()) - before) / runs, dbMs: (((await dbSeconds()) - dbBefore) * 1000) / runs };
    };
    /** Both dashboards' totals against the events sent. */
    const checkBoth = async () => {
      const legacy = await checkTotals();
      const model = await checkTotals(MODEL);
      return { wrong: [...legacy.wrong, ...model.wrong.map((w) => `model: ${w}`)], summary: legacy.summary };
    };
    return { root: target.root, config, loadRate, measure, checkTotals: checkBoth, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The standalone report (`node --import tsx bench/dashboard.ts`): every path in one block of RUNS. */
async function main() {
  const d = await openDashboard(await loadDashboardTarget(targetRoot()), (line) => console.log(line));
  try {
    // Run each block after the other, graphql first (the naive one gets the warmer caches).
    const results = [];
    const all = ['hourly', 'naive', 'minute', 'hourly9', 'minute9', 'model', 'modelOffHour', 'modelOff', 'modelCold', 'modelLive'] as const;
    const only = process.env.BENCH_PATHS?.split(',');
    if (only) {
      // Some paths alone (for iterating on one of them): their figures, no comparison.
      const profile = process.env.BENCH_PROFILE ? await startProfile() : null;
      for (const path of all.filter((p) => only.includes(p))) {
        const r = await d.measure(path, path === 'modelLive' ? Math.max(RUNS, 300) : RUNS);
        console.log(`${r.label.padEnd(34)} ${fmt(percentile(r.times, 50))} ${fmt(percentile(r.times, 95))}   reads ${r.reads}`);
      }
      if (profile) writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(await profile()));
      return;
    }
    // The live path over ≥ 10 s of trickle (many flushes), the others over RUNS dashboards.
    for (const path of all) results.push(await d.measure(path, path === 'modelLive' ? Math.max(RUNS, 300) : RUNS));
    console.log(`\n12-tile dashboard, 30 days hourly + previous 30 days, ${RUNS} runs each (after 3 warm-ups), ${d.config.storage.clickhouse.kind} ClickHouse, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores:`);
    console.log(`${''.padEnd(34)}   p50 ms   p95 ms   reads/dashboard   ClickHouse ms/dashboard (mean, summed over reads)`);
    for (const r of results) console.log(`${r.label.padEnd(34)} ${fmt(percentile(r.times, 50))} ${fmt(percentile(r.times, 95))}   ${String(r.reads).padStart(15)}   ${fmt(r.dbMs)}`);
    const [a, b] = results as [(typeof results)[number], (typeof results)[number]];
    console.log(`speed-up: ${(percentile(b.times, 50) / percentile(a.times, 50)).toFixed(1)}× at p50, ${(percentile(b.times, 95) / percentile(a.times, 95)).toFixed(1)}× at p95`);
    const [model, off] = [results[5]!, results[6]!];
    const ratio = (x: typeof model, p: number) => (percentile(x.times, p) / percentile(model.times, p)).toFixed(1);
    console.log(`model path with the series cache (warm): ${ratio(b, 50)}× the naive read at p50, ${ratio(b, 95)}× at p95; ${ratio(off, 50)}× / ${ratio(off, 95)}× the cache off`);
    const { wrong, summary } = await d.checkTotals();
    if (wrong.length) throw new Error(`totals differ from the events sent: ${wrong.join('; ')}`);
    console.log(`check: totals equal the events sent — ${summary}`);
  } finally {
    await d.stop();
  }
}

/** As one side of `npm run bench`: 'round' → one block of each asked path; 'finish' → the closing check. */
async function side() {
  const d = await openDashboard(await loadDashboardTarget(targetRoot()), (line) => console.log(line));
  try {
    await serveSide(
      { loadRate: d.loadRate, events: EVENTS, target: d.root },
      {
        round: async (args) => {
          const { paths, runs } = args as { paths: PathName[]; runs: number };
          const out: Record<string, Awaited<ReturnType<typeof d.measure>>> = {};
          for (const p of paths) out[p] = await d.measure(p, runs);
          return out;
        },
        finish: () => d.checkTotals(),
      },
    );
  } finally {
    await d.stop();
  }
}

await (underHarness() ? side() : main());
