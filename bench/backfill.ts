/**
 * The backfill rate of a new metric (events/s) over a large generated event log, beside
 * two baselines on the same log in the same run: a plain full scan of the log, and
 * `tilecast replay`'s rebuild of one tenant's windows from it. Not a test: it prints figures, and fails (exit 1)
 * only when the backfilled metric differs from the same sum computed by SQL over the log.
 *
 *   node --import tsx bench/backfill.ts [--events 1000000,10000000] [--tenants 10] [--days 2]
 *
 * The log is generated in chdb with INSERT … SELECT FROM numbers(N): tenants × 2
 * currencies, 5,000 users per tenant, 50% purchases / 20% signups / 20% upgrades / 10%
 * churns, an amount on purchases and upgrades, spread evenly over `days`. The new metric:
 * the sum of amount over upgrades by currency (models/default.yaml plus one entry).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runBackfill } from '../src/aggregate/backfill/backfill.ts';
import { replayWindows } from '../src/aggregate/replay.ts';
import { requireModel } from '../src/model/compile.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createBackfillStore } from '../src/storage/backfill-store.ts';
import { createClickHouse } from '../src/storage/clickhouse.ts';
import { createEventLog } from '../src/storage/event-log.ts';
import { createMetricWindowStore } from '../src/storage/metric-window-store.ts';
import { migrate } from '../src/storage/migrations.ts';
import { createProgressStore } from '../src/storage/progress-store.ts';
import { createReplayReader } from '../src/storage/replay-reader.ts';
import { createWindowStore } from '../src/storage/window-store.ts';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, tenants: { type: 'string', default: '10' }, days: { type: 'string', default: '2' } } });
const SIZES = args.events.split(',').map(Number);
const TENANTS = Number(args.tenants);
const SPAN_MS = Number(args.days) * 86_400_000;
const logger = createLogger('warn');
const dir = mkdtempSync(join(tmpdir(), 'tilecast-backfill-bench-'));
const modelPath = join(dir, 'model.yaml');
writeFileSync(
  modelPath,
  `${readFileSync('models/default.yaml', 'utf8')}  - { name: upgrade_revenue, version: 1, unit: currency, sum: amount, where: { eventType: upgrade }, by: [currency] }\n`,
);
const plan = await requireModel(modelPath);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString('en-US');
const log = (line: string) => process.stderr.write(`${line}\n`);
let failed = false;

for (const N of SIZES) {
  const db = await createClickHouse({ config: { kind: 'embedded', path: join(dir, `ch-${N}`), timeoutMs: 1_800_000 }, logger, metrics: createMetrics() });
  await migrate(db);
  const base = Math.floor((Date.now() - SPAN_MS - 86_400_000) / 3_600_000) * 3_600_000;
  let t = Date.now();
  // In slices of 1M rows (one insert each), so no single statement runs for minutes.
  for (let from = 0; from < N; from += 1_000_000) {
    await db.command({
      queryId: 'bench.generate',
      sql: `INSERT INTO events (tenant_id, currency, window_start, event_key, event_type, user_id, amount, trace_id, event_time_ms, source, seq, writer)
            SETTINGS insert_deduplication_token = 'bench-${N}-${from}'
            SELECT concat('tenant-', toString(intDiv(number, 10) % {tenants:UInt32})) AS tenant_id, if(intDiv(number, 10 * {tenants:UInt32}) % 2 = 0, 'USD', 'EUR') AS currency,
                   toDateTime(intDiv(t_ms, 60000) * 60, 'UTC') AS window_start, lower(hex(cityHash64(number, 'key'))) AS event_key,
                   multiIf(number % 10 < 5, 'purchase', number % 10 < 7, 'signup', number % 10 < 9, 'upgrade', 'churn') AS event_type,
                   concat('u', toString(cityHash64(number) % 5000)) AS user_id,
                   if(number % 10 < 5 OR (number % 10 >= 7 AND number % 10 < 9), CAST(100 + number % 99991 AS Decimal(38, 6)) / 100, NULL) AS amount,
                   leftPad(lower(hex(cityHash64(number, 'trace'))), 32, '0') AS trace_id, t_ms AS event_time_ms, 'http' AS source, 1 AS seq, '' AS writer
            FROM (SELECT number, {base:Int64} + intDiv(number * {span:Int64}, {n:Int64}) AS t_ms FROM numbers({from:UInt64}, {count:UInt64}))`,
      params: { tenants: TENANTS, base, span: SPAN_MS, n: N, from, count: Math.min(1_000_000, N - from) },
    });
  }
  log(`${fmt(N)} events generated in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  t = Date.now();
  await db.query({ queryId: 'bench.scan', sql: 'SELECT count() AS n, sum(amount) AS s, uniqExact(user_id) AS u FROM events', row: z.object({ n: z.coerce.number() }) });
  const scanMs = Date.now() - t;

  // tilecast replay over one tenant's share of the log (it writes that tenant's windows; a
  // replay of the whole 10M log would take an hour here); the other tenants' windows are
  // built by one INSERT … SELECT, as their aggregator would have written them.
  t = Date.now();
  const replayDeps = { eventLog: createEventLog(db, plan), windowStore: createWindowStore(db), progressStore: createProgressStore(db), reader: createReplayReader(db), plan, metricStore: createMetricWindowStore(db), logger };
  const replayed = (await replayWindows(replayDeps, { tenantId: 'tenant-0', from: base, to: base + SPAN_MS + 60_000 })).events;
  const replayMs = Date.now() - t;
  await db.command({
    queryId: 'bench.windows',
    sql: `INSERT INTO windows_input (tenant_id, currency, window_start, revision, final, revenue, purchases, signups, upgrades, churns, active_users, users, last_event_at_ms, trace_sample, source)
          SELECT tenant_id, currency, window_start, 1, 1, sumIf(assumeNotNull(amount), event_type = 'purchase'), countIf(event_type = 'purchase'),
                 countIf(event_type = 'signup'), countIf(event_type = 'upgrade'), countIf(event_type = 'churn'), uniqExact(user_id), groupUniqArray(user_id),
                 max(event_time_ms), [], any(source)
          FROM events WHERE tenant_id != 'tenant-0' GROUP BY tenant_id, currency, window_start`,
  });

  const store = createBackfillStore(db);
  await store.recordLive(['upgrade_revenue@1'], Date.now());
  t = Date.now();
  const r = await runBackfill({ plan, eventLog: createEventLog(db, plan), metricStore: createMetricWindowStore(db), store, logger }, ['upgrade_revenue@1']);
  const backfillMs = Date.now() - t;

  const sums = await db.query({
    queryId: 'bench.check',
    sql: `SELECT (SELECT toString(sum(value)) FROM metric_windows FINAL WHERE metric = 'upgrade_revenue') AS backfilled,
                 (SELECT toString(sum(amount)) FROM events WHERE event_type = 'upgrade') AS logged,
                 (SELECT toString(sum(value)) FROM metric_windows_hourly FINAL WHERE metric = 'upgrade_revenue') AS hourly`,
    row: z.object({ backfilled: z.string(), logged: z.string(), hourly: z.string() }),
  });
  const ok = sums[0]!.backfilled === sums[0]!.logged && sums[0]!.hourly === sums[0]!.logged && replayed === Math.ceil(N / TENANTS);
  failed ||= !ok;
  console.log(`events ${fmt(N)} (${TENANTS} tenants × 2 currencies, ${args.days} days, ${fmt(r.windows)} windows, ${r.chunks} hour chunks)`);
  console.log(`  full scan of the log          ${fmt(rate(N, scanMs)).padStart(12)} events/s  (${(scanMs / 1000).toFixed(1)} s)`);
  console.log(`  tilecast replay (1 tenant)     ${fmt(rate(replayed, replayMs)).padStart(12)} events/s  (${(replayMs / 1000).toFixed(1)} s, ${fmt(replayed)} events)`);
  console.log(`  backfill upgrade_revenue@1     ${fmt(rate(r.events, backfillMs)).padStart(12)} events/s  (${(backfillMs / 1000).toFixed(1)} s, ${fmt(r.rows)} rows)`);
  console.log(`  check: backfilled sum ${sums[0]!.backfilled}, hourly ${sums[0]!.hourly}, log ${sums[0]!.logged} → ${ok ? 'equal' : 'DIFFERENT'}`);
  await db.close();
}
process.exit(failed ? 1 : 0);
