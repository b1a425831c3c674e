/**
 * Benchmark (not a test): dashboards under concurrency. 20 clients (autocannon
 * connections) send the example dashboard — examples/client/dashboard.graphql (revenue,
 * purchases and active users with their previous period, ARPU, revenue by currency and
 * freshness, all served from the model's tables), 30
 * days daily up to the end of today, one tenant — to `tilecast api` processes over ONE
 * ClickHouse (scripts/chdb-server.ts serving one chdb), as fast as answers come back:
 *
 *   1 API, cache off    SERIES_CACHE_MB=0: every request reads everything;
 *   1 API               the series cache on (default);
 *   2 APIs              two replicas, 10 connections each, over the same ClickHouse.
 *
 * Prints requests/s and p50/p99 latency per scenario. Data: BENCH_EVENTS (default
 * 200,000) events over the 60 days up to now, loaded through an embedded app's intake
 * and aggregator writing to the chdb-server (faster than through Kafka, same tables).
 * Then one `tilecast worker` owns the (empty) topic's 4 partitions and publishes their
 * progress over Redis (REDIS_URL, default the local one): that is how the API processes
 * know the watermark, i.e. what is final and so what the cache may keep, as in a
 * deployment. Kafka: KAFKA_BROKERS, default the local test broker.
 *
 * Each scenario runs twice: idle (nothing arriving), and live — BENCH_LIVE_RATE events a
 * second (default 20) for the tenant produced to the topic as one batch record a second
 * (as `tilecast api` sends them), which the worker writes and announces over Redis: the
 * window updates that drop the API processes' kept open edges, as in a deployment.
 *
 *   node --import tsx bench/dashboard-load.ts     # BENCH_EVENTS, BENCH_LOAD_SECONDS (default 15), BENCH_LIVE_RATE
 *
 * Scenarios are measured once the worker's background backfill of the loaded history is
 * done (the API then answers `complete: true`).
 *
 * Every run ends with each scenario's dashboard totals (purchases over 30 days and the
 * previous 30) checked against the events it generated and the live ones produced (once
 * the worker has announced them); a mismatch, a non-2xx answer or a GraphQL error fails it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';
import { z } from 'zod';
import { createBenchTopic } from './harness/kafka-records.ts';
import { loadDashboardTarget, loadKafkaTarget, targetRoot } from './harness/target.ts';
import { startApi, startChdbServer, startWorker, until, type ApiProcess, type WorkerProcess } from './harness/worker-group.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 15);
const LIVE_RATE = Number(process.env.BENCH_LIVE_RATE ?? 20);
const CLIENTS = 20;
const DAY = 24 * 3_600_000;
const TENANT = 'demo';
const NOW = Date.now();
const TODAY = Math.floor(NOW / DAY) * DAY;
const FROM = TODAY - 29 * DAY;
const TO = TODAY + DAY;
const run = `${Date.now().toString(36)}-${process.pid}`;
const SECRET = `bench-dashboard-load-secret-${run}`.padEnd(40, 'x');

/** The events, from a fixed seed, over the 60 days before now; how many purchases fall in each period. */
function events() {
  let s = 42;
  const rnd = () => ((s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0) / 4_294_967_296);
  const start = NOW - 60 * DAY;
  const out: Record<string, unknown>[] = [];
  const purchases = { current: 0, previous: 0 };
  for (let k = 0; k < EVENTS; k++) {
    const x = rnd();
    const eventType = x < 0.5 ? 'purchase' : x < 0.75 ? 'signup' : x < 0.9 ? 'upgrade' : 'churn';
    const timestamp = Math.floor(start + ((k + 0.5) * (NOW - 120_000 - start)) / EVENTS);
    const currency = rnd() < 0.7 ? 'USD' : 'EUR';
    out.push({ eventType, userId: `u${Math.floor(rnd() * 20_000)}`, tenantId: TENANT, currency, traceId: (k + 1).toString(16).padStart(32, '0'), timestamp, ...(eventType === 'purchase' ? { amount: `${1 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 100)}` } : {}) });
    if (eventType === 'purchase' && timestamp >= FROM && timestamp < TO) purchases.current += 1;
    if (eventType === 'purchase' && timestamp >= FROM - 30 * DAY && timestamp < FROM) purchases.previous += 1;
  }
  return { out, purchases };
}

const QUERY = readFileSync(new URL('../examples/client/dashboard.graphql', import.meta.url), 'utf8');
const VARIABLES = { currency: 'USD', from: new Date(FROM).toISOString(), to: new Date(TO).toISOString(), timeZone: 'UTC' };
const BODY = JSON.stringify({ query: QUERY, variables: VARIABLES });

type Dashboard = { data?: { purchases: { total: string; comparison: { total: string } } }; errors?: unknown };
async function dashboard(url: string, token: string): Promise<Dashboard> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: BODY });
  return (await res.json()) as Dashboard;
}

const completeAnswer = z.object({ data: z.object({ metrics: z.array(z.object({ complete: z.boolean() })) }).nullish(), errors: z.unknown().optional() });

/**
 * Whether every metric of the model is backfilled (`Query.metrics { complete }`). The
 * worker's background backfill covers the loaded history first; until it has, an API
 * answers `complete: false` for those versions and its series cache keeps nothing of them.
 */
async function backfilled(url: string, token: string): Promise<boolean> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ metrics { complete } }' }) });
  const body = completeAnswer.safeParse(await res.json());
  if (!body.success || body.data.errors || !body.data.data) throw new Error(`the backfill check failed: ${JSON.stringify(body.success ? body.data.errors : body.error.issues)}`);
  return body.data.data.metrics.every((m) => m.complete);
}

/** `clients` connections spread over `urls` for SECONDS: requests/s summed, latency percentiles of the busiest. */
async function load(urls: string[], token: string, seconds: number) {
  const per = CLIENTS / urls.length;
  const results = await Promise.all(
    urls.map((url) => autocannon({ url: `${url}/graphql`, connections: per, duration: seconds, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: BODY })),
  );
  return {
    rps: results.reduce((a, r) => a + r.requests.average, 0),
    requests: results.reduce((a, r) => a + r.requests.total, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    bad: results.reduce((a, r) => a + r.non2xx + r.errors + r.timeouts, 0),
  };
}

/**
 * LIVE_RATE events a second for TENANT, produced as one batch record a second while it runs
 * (timestamps now: the open edge of every dashboard). `stop` answers how many were purchases.
 */
function startTrickle(kafka: Kafka, topic: string, batchRecords: Awaited<ReturnType<typeof loadKafkaTarget>>['batchRecords']) {
  const producer = kafka.producer();
  const connected = producer.connect();
  let sent = 0;
  let purchases = 0;
  let pending = Promise.resolve();
  const tick = () => {
    const now = Date.now();
    const evs = Array.from({ length: LIVE_RATE }, (_, i) => {
      const k = sent++;
      const purchase = k % 2 === 0;
      if (purchase && now - i < TO) purchases += 1; // after midnight UTC: past the dashboard's range
      return { eventType: purchase ? 'purchase' : 'signup', userId: `live${k % 500}`, tenantId: TENANT, currency: 'USD', traceId: (0xf0000000 + k).toString(16).padStart(32, '0'), timestamp: now - i, ...(purchase ? { amount: '9.99' } : {}) };
    });
    pending = pending.then(async () => {
      await connected;
      await producer.send({ topic, acks: -1, messages: batchRecords(evs as never) as never });
    });
  };
  const timer = setInterval(tick, 1000);
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await pending;
      await producer.disconnect();
      return purchases;
    },
  };
}

async function main() {
  const root = targetRoot();
  const target = await loadDashboardTarget(root);
  const { batchRecords } = await loadKafkaTarget(root);
  const ch = await startChdbServer(root);
  const dataDir = mkdtempSync(join(tmpdir(), 'tilecast-bench-load-'));
  const shared = { CLICKHOUSE_URL: ch.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_CHANNEL_PREFIX: `bench-load-${run}`, AUTH_SECRET: SECRET, RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' };
  const loader = await target.createApp({ config: target.loadConfig({ ...shared, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', CURRENCY_BUDGET: '5' }) });
  let loaderUp = true;
  const stopLoader = async () => {
    if (loaderUp) await loader.stop();
    loaderUp = false;
  };
  const apis: ApiProcess[] = [];
  let worker: WorkerProcess | null = null;
  try {
    await loader.start();
    const { out, purchases } = events();
    const started = performance.now();
    for (let i = 0; i < out.length; i += 20_000) {
      const batch = out.slice(i, i + 20_000).map((e) => ({ raw: JSON.stringify(e), value: e, item: { value: e } }));
      const r = await loader.intake.submit(TENANT, batch as never);
      if (r.accepted !== batch.length) throw new Error(`the intake accepted ${r.accepted} of ${batch.length} events`);
      await loader.aggregator!.flush();
    }
    console.log(`loaded ${EVENTS.toLocaleString('en')} events (60 days, tenant ${TENANT}) into one chdb-server in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    const token = await loader.tokens.mint({ tenantId: TENANT, scope: 'read', ttlSeconds: 3600 });
    await stopLoader();
    const brokers = process.env.KAFKA_BROKERS ?? process.env.TILECAST_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092';
    const topic = `tilecast.bench.dashboard-load.${run}`;
    const kafka = new Kafka({ clientId: 'bench-dashboard-load', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    await createBenchTopic(kafka, topic, 4);
    const env = (extra: Record<string, string>) => ({ ...shared, KAFKA_BROKERS: brokers, KAFKA_TOPIC: topic, KAFKA_DLQ_TOPIC: `${topic}.dlq`, KAFKA_GROUP_ID: `bench-load-${run}`, ...extra });
    worker = await startWorker(root, 'worker', env({ FLUSH_INTERVAL_MS: '1000' }));
    await until(async () => (await worker!.partitions()).filter((p) => p.status === 'running').length === 4, 'the worker to own the 4 partitions');
    const scenarios: { name: string; urls: () => Promise<string[]> }[] = [
      { name: '1 API, cache off', urls: async () => [(await startApi(root, 'off', env({ SERIES_CACHE_MB: '0' })).then((a) => (apis.push(a), a))).url] },
      { name: '1 API, series cache', urls: async () => [(await startApi(root, 'a', env({})).then((a) => (apis.push(a), a))).url] },
      { name: '2 API replicas, series cache', urls: async () => [apis.at(-1)!.url, (await startApi(root, 'b', env({})).then((a) => (apis.push(a), a))).url] },
    ];
    const wrong: string[] = [];
    const rows: string[] = [];
    /** Each API's purchases against the events sent (live ones: once the worker has announced them, ≤ 30 s). */
    const check = async (name: string, urls: string[]) => {
      for (const url of urls) {
        let got = { current: NaN, previous: NaN };
        let errors: unknown;
        const right = () => got.current === purchases.current && got.previous === purchases.previous && !errors;
        await until(async () => {
          const d = await dashboard(url, token);
          got = { current: Number(d.data?.purchases.total), previous: Number(d.data?.purchases.comparison.total) };
          errors = d.errors;
          return right();
        }, `${name}: the live events in ${url}'s answer`, 30_000, 200).catch(() => undefined);
        if (!right()) wrong.push(`${name} ${url}: purchases ${JSON.stringify(got)} ≠ ${JSON.stringify(purchases)} ${JSON.stringify(errors ?? '')}`);
      }
    };
    for (const s of scenarios) {
      const urls = await s.urls();
      for (const url of urls) {
        const d = await dashboard(url, token);
        if (d.errors || !d.data) throw new Error(`${s.name}: ${JSON.stringify(d.errors)}`);
        // Measured once the backfill of the loaded history is done (it competes for ClickHouse, and the cache keeps nothing until then).
        await until(() => backfilled(url, token), `${s.name}: the loaded history backfilled`, 300_000, 1_000);
      }
      for (const live of [false, true]) {
        const name = `${s.name}${live ? `, ${LIVE_RATE} ev/s` : ''}`;
        const trickle = live ? startTrickle(kafka, topic, batchRecords) : null;
        await load(urls, token, 3); // warm-up: connections, JIT, the cache's first fill
        const r = await load(urls, token, SECONDS);
        purchases.current += (await trickle?.stop()) ?? 0;
        await check(name, urls);
        if (r.bad > 0) wrong.push(`${name}: ${r.bad} non-2xx answers, errors or timeouts`);
        rows.push(`${name.padEnd(38)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(0).padStart(8)} ${r.p99.toFixed(0).padStart(8)} ${String(r.requests).padStart(10)}`);
      }
      if (s.name.includes('off')) await apis.shift()!.stop();
    }
    console.log(`\n${CLIENTS} clients, example dashboard (model path, 30 days daily + previous period), ${SECONDS} s each after a 3 s warm-up, one chdb-server, idle and with ${LIVE_RATE} events/s arriving through Kafka, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores:`);
    console.log(`${'scenario'.padEnd(38)}    req/s   p50 ms   p99 ms   requests`);
    for (const r of rows) console.log(r);
    if (wrong.length) throw new Error(`checks failed: ${wrong.join('; ')}`);
    console.log(`check: every scenario's purchases equal the events sent — ${purchases.current} over 30 days (live ones included), ${purchases.previous} the 30 before`);
  } finally {
    for (const a of apis) await a.stop();
    await worker?.stop();
    await stopLoader();
    await ch.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
