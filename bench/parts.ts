/**
 * The read time of the model's dashboard read as storage grows, before and after the
 * compaction of settled months (migrations/0014: a month whose parts are all older than an
 * hour is merged into one part). Not a test: it prints figures, and fails (exit 1) when a
 * read's totals differ from the ones the generator implies.
 *
 *   node --import tsx bench/parts.ts [--events 1000000,10000000,50000000] [--runs 30]
 *
 * Data: `events` / 950,400 tenants (≈1M events each over 60 days: 11 events a minute, 5
 * purchases at 9.99 USD, 3 signups, 2 upgrades, 1 churn, users from a pool of 5,000),
 * written as the aggregator writes them — one row per (tenant, metric, minute) into
 * metric_windows through metric_windows_input, and the hourly rollup recomputed from
 * `metric_windows FINAL` — one insert per table per hour of all tenants, in event-time
 * order, so the background merges see a stream of parts like a live deployment's. The
 * read: 12 queries (6 metrics × 30 days and the previous 30 days) of one tenant, hourly
 * (whole UTC hours: metric_windows_hourly) and by minute source (the same range a minute
 * later: metric_windows, hourly buckets), through src/storage/metric-series-reader.ts.
 *
 * Three states of the same data, each after the merges in flight have finished:
 *   loaded     ordinary background merges only (what a month keeps for good without 0014);
 *   compacted  after 0014's forced merge (the bench lowers min_age_to_force_merge_seconds
 *              to 1 s to stand for the hour passing): past months are one part each;
 * The range a minute later is read two ways: all from the minutes (the baseline), and as the
 * reader now serves it — whole hours from the hourly table, the partial ones from the minutes.
 * Each read twice: with FINAL across partitions, and per partition as the reader runs it
 * (do_not_merge_across_partitions_select_final: a one-part month is read without merging).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../src/storage/clickhouse.ts';
import { createMetricSeriesReader, metricSeriesQuery, READ_SETTINGS } from '../src/storage/metric-series-reader.ts';
import { EDGES_TABLE, metricColumns, type MetricQuery } from '../src/storage/metric-series-sql.ts';
import { migrate } from '../src/storage/migrations.ts';
import { percentile } from './harness/stats.ts';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '1000000,10000000,50000000' }, runs: { type: 'string', default: '30' } } });
const SIZES = args.events.split(',').map(Number);
const RUNS = Number(args.runs);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const DAYS = 60;
/** Event time written per insert (every tenant's minutes of 3 hours). */
const CHUNK = 3 * HOUR;
const PER_MINUTE = { purchases: 5, signups: 3, upgrades: 2, churns: 1 } as const;
const EVENTS_PER_TENANT = DAYS * 1440 * 11;
const USERS = 5000;
const END = Math.floor(Date.now() / DAY) * DAY - DAY; // midnight UTC, in the past
const START = END - DAYS * DAY;
const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => n.toLocaleString('en-US');

/** (metric, the events of a minute it counts, its value expression) as written by the aggregator. */
const CELLS: readonly { metric: string; value: string; users: string }[] = [
  { metric: 'revenue', value: `toDecimal128(${PER_MINUTE.purchases} * 9.99, 6)`, users: '[]' },
  { metric: 'purchases', value: String(PER_MINUTE.purchases), users: '[]' },
  { metric: 'signups', value: String(PER_MINUTE.signups), users: '[]' },
  { metric: 'upgrades', value: String(PER_MINUTE.upgrades), users: '[]' },
  { metric: 'churns', value: String(PER_MINUTE.churns), users: '[]' },
  // 11 users a minute: user (m × 11 + k) mod 5,000, m the minute within its insert's chunk.
  { metric: 'active_users', value: '0', users: `arrayMap(k -> concat('u', toString((m * 11 + k) % ${USERS})), range(11))` },
];

async function load(db: ClickHouse, tenants: number): Promise<void> {
  const cells = CELLS.map(
    (c) => `SELECT concat('t', toString(t)) AS tenant_id, '${c.metric}' AS metric, toUInt16(1) AS metric_version, toDateTime(intDiv({from:Int64}, 1000) + m * 60, 'UTC') AS window_start,
      ['USD'] AS dims, 'USD' AS slice, toUInt32(1) AS revision, toUInt8(1) AS final, ${c.value} AS value, ${c.users} AS users,
      {from:Int64} + m * 60000 + 59000 AS last_event_at_ms, 'bench' AS source, toUInt64(4294967296 + 11) AS row_version
    FROM (SELECT number % {tenants:UInt32} AS t, intDiv(number, {tenants:UInt32}) AS m FROM numbers({n:UInt64}))`,
  );
  for (let hour = START; hour < END; hour += CHUNK) {
    await db.command({ queryId: 'bench.cells', sql: `INSERT INTO metric_windows_input ${cells.join(' UNION ALL ')}`, params: { from: hour, tenants, n: tenants * (CHUNK / MIN) } });
    await db.command({
      queryId: 'bench.rollup',
      sql: `INSERT INTO metric_windows_hourly (tenant_id, metric, metric_version, hour_start, dims, final, value, users, last_event_at_ms, minutes, row_version)
        SELECT tenant_id, metric, metric_version, toStartOfHour(window_start) AS hour, dims, min(final), sum(value), uniqExactMergeState(users), max(last_event_at_ms), count(), toUInt64(1)
        FROM metric_windows FINAL
        WHERE window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        GROUP BY tenant_id, metric, metric_version, hour, dims`,
      params: { from: hour, to: hour + CHUNK },
    });
  }
}

const partsRow = z.object({ table: z.string(), parts: z.coerce.number(), partitions: z.coerce.number() });
async function parts(db: ClickHouse): Promise<string> {
  const rows = await db.query({
    queryId: 'bench.parts',
    sql: `SELECT table, count() AS parts, uniqExact(partition) AS partitions FROM system.parts
          WHERE active AND database = currentDatabase() AND table IN ('metric_windows', 'metric_windows_hourly') GROUP BY table ORDER BY table`,
    row: partsRow,
  });
  return rows.map((r) => `${r.table} ${r.parts} parts/${r.partitions} months`).join(', ');
}

async function settle(db: ClickHouse, until: () => Promise<boolean> = async () => true): Promise<void> {
  const merging = z.object({ n: z.coerce.number() });
  for (let i = 0; i < 600; i++) {
    const [m] = await db.query({ queryId: 'bench.merges', sql: 'SELECT count() AS n FROM system.merges', row: merging });
    if (m!.n === 0 && (await until())) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('merges did not finish in 5 minutes');
}

/** The 12 queries of the dashboard, on whole hours (hourly table) or a minute later (minutes). */
function dashboard(offset: number, table = offset === 0 ? 'metric_windows_hourly' : 'metric_windows'): MetricQuery[] {
  const to = END + offset;
  const periods = [{ from: to - 30 * DAY, to }, { from: to - 60 * DAY, to: to - 30 * DAY }];
  return periods.flatMap((p) =>
    CELLS.map((c): MetricQuery => ({ table, ...p, granularity: 'HOUR', timeZone: 'UTC', metric: c.metric, version: 1, distinct: c.metric === 'active_users', filters: [{ index: 0, in: ['USD'], notIn: null }], breakdown: null })),
  );
}

/** Totals the generator implies for a query (users: counted from the same formula). */
function expected(q: MetricQuery): string {
  const from = Math.max(q.from, START);
  const minutes = Math.max(0, (Math.min(q.to, END) - from) / MIN);
  if (q.metric === 'active_users') {
    const seen = new Set<number>();
    for (let m = (from - START) / MIN; m < (from - START) / MIN + minutes && seen.size < USERS; m++) for (let k = 0; k < 11; k++) seen.add(((m % (CHUNK / MIN)) * 11 + k) % USERS);
    return String(seen.size);
  }
  if (q.metric === 'revenue') return (minutes * PER_MINUTE.purchases * 9.99).toFixed(2).replace(/\.?0+$/, '');
  return String(minutes * PER_MINUTE[q.metric as keyof typeof PER_MINUTE]);
}

type Figure = { p50: number; p95: number };

/** p50/p95 of the reader's statement, FINAL across partitions and per partition (the reader's setting), interleaved. */
async function timeReads(db: ClickHouse, queries: MetricQuery[]): Promise<[Figure, Figure]> {
  const results = await createMetricSeriesReader(db).read('t0', queries);
  results.forEach((r, k) => {
    const got = r.get('')?.total?.value ?? '0';
    if (got !== expected(queries[k]!)) throw new Error(`${queries[k]!.metric} over ${queries[k]!.table}: read ${got}, generated ${expected(queries[k]!)}`);
  });
  const { sql, params } = metricSeriesQuery('t0', queries);
  // Explicit both ways: chdb keeps a setting for the session once a statement sets it.
  const ways = [{ do_not_merge_across_partitions_select_final: 0 as const }, READ_SETTINGS];
  const samples: [number[], number[]] = [[], []];
  for (let i = 0; i < RUNS + 3; i++) {
    for (const w of [0, 1] as const) {
      const t = performance.now();
      await db.queryColumns({ queryId: 'bench.read', sql, params, columns: metricColumns, settings: ways[w] });
      if (i >= 3) samples[w].push(performance.now() - t);
    }
  }
  return samples.map((x) => ({ p50: percentile(x, 50), p95: percentile(x, 95) })) as [Figure, Figure];
}

/** Hourly and minute-source reads, FINAL across partitions and per partition. */
async function measure(db: ClickHouse) {
  return { hourly: await timeReads(db, dashboard(0)), minutes: await timeReads(db, dashboard(MIN)), edges: await timeReads(db, dashboard(MIN, EDGES_TABLE)), parts: await parts(db) };
}

const ms = (x: { p50: number; p95: number }) => `${x.p50.toFixed(1)} / ${x.p95.toFixed(1)}`.padEnd(14);
const dir = mkdtempSync(join(tmpdir(), 'tilecast-parts-bench-'));
const rows: string[] = [];
try {
  for (const events of SIZES) {
    const tenants = Math.max(1, Math.round(events / EVENTS_PER_TENANT));
    const db = await createClickHouse({ config: { kind: 'embedded', path: join(dir, `ch-${events}`), timeoutMs: 1_800_000 }, logger: createLogger('warn'), metrics: createMetrics() });
    await migrate(db);
    // The forced merge waits an hour of part age: hold it off while loading, like the first hour of a deployment.
    for (const table of ['metric_windows', 'metric_windows_hourly']) await db.command({ queryId: 'bench.hold', sql: `ALTER TABLE ${table} MODIFY SETTING min_age_to_force_merge_seconds = 86400` });
    let t = Date.now();
    await load(db, tenants);
    await settle(db);
    log(`${fmt(tenants * EVENTS_PER_TENANT)} events (${tenants} tenants) written in ${((Date.now() - t) / 1000).toFixed(0)} s: ${await parts(db)}`);
    const loaded = await measure(db);
    t = Date.now();
    for (const table of ['metric_windows', 'metric_windows_hourly']) await db.command({ queryId: 'bench.age', sql: `ALTER TABLE ${table} MODIFY SETTING min_age_to_force_merge_seconds = 1` });
    const onePartPerMonth = async () => {
      const [r] = await db.query({ queryId: 'bench.check', sql: `SELECT max(n) AS n FROM (SELECT count() AS n FROM system.parts WHERE active AND database = currentDatabase() AND table IN ('metric_windows', 'metric_windows_hourly') GROUP BY table, partition)`, row: z.object({ n: z.coerce.number() }) });
      return r!.n <= 1;
    };
    await settle(db, onePartPerMonth);
    log(`compacted in ${((Date.now() - t) / 1000).toFixed(0)} s: ${await parts(db)}`);
    const compacted = await measure(db);
    const line = (label: string, m: Awaited<ReturnType<typeof measure>>) =>
      `${label}  ${ms(m.hourly[0]!)} ${ms(m.hourly[1]!)}  ${ms(m.minutes[0]!)} ${ms(m.minutes[1]!)}  ${ms(m.edges[0]!)} ${ms(m.edges[1]!)}  ${m.parts}`;
    rows.push(line(`${fmt(tenants * EVENTS_PER_TENANT).padStart(11)}  loaded   `, loaded), line(`${''.padStart(11)}  compacted`, compacted));
    await db.close();
    rmSync(join(dir, `ch-${events}`), { recursive: true, force: true });
  }
  console.log(`\nModel dashboard read (12 queries, one tenant, 30 days + previous 30 days, hourly buckets), p50 / p95 ms over ${RUNS} runs; totals checked in every state`);
  console.log(`${''.padStart(24)}${'whole hours (hourly table)'.padEnd(30)}${'a minute later: minutes'.padEnd(30)}${'a minute later: hours + edges'.padEnd(30)}`);
  console.log(`${''.padStart(24)}${'FINAL across | per partition   '.repeat(3)}`);
  console.log(rows.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
