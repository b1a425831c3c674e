/**
 * What the event log and the windows cost on disk per million events, to size
 * RETENTION_EVENTS_DAYS / RETENTION_WINDOWS_DAYS. Not a test: it prints figures.
 *
 *   node --import tsx bench/retention-storage.ts [--events 1000000] [--tenants 10] [--days 7]
 *
 * Generates valid events (tenants × 2 currencies, 10,000 users per tenant, random W3C
 * trace ids, 70% purchases with a decimal amount) spread evenly over `days`, appends
 * them to the event log through the storage layer (src/storage/event-log.ts, batches of
 * 20,000 like a busy intake), aggregates them with the window engine and writes every
 * window once through src/storage/window-store.ts. Then merges (OPTIMIZE … FINAL) and
 * reads active parts from system.parts. The baseline beside it: the same events as
 * NDJSON (what an uncompressed log file of them would take).
 *
 * Windows per million events depend on density: one window per tenant × currency ×
 * minute that has events. With the defaults (10 tenants, 7 days) a window holds ~5 events.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createWindowEngine } from '../src/aggregate/window-engine.ts';
import type { WindowEvent } from '../src/contracts/event.ts';
import { requireModel } from '../src/model/compile.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { createClickHouse } from '../src/storage/clickhouse.ts';
import { createEventLog } from '../src/storage/event-log.ts';
import { migrate } from '../src/storage/migrations.ts';
import { createWindowStore } from '../src/storage/window-store.ts';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, tenants: { type: 'string', default: '10' }, days: { type: 'string', default: '7' } } });
const N = Number(args.events);
const TENANTS = Array.from({ length: Number(args.tenants) }, (_, i) => `tenant-${i}`);
const SPAN_MS = Number(args.days) * 86_400_000;
const BATCH = 20_000;

const db = await createClickHouse({ config: { kind: 'embedded', path: mkdtempSync(join(tmpdir(), 'tilecast-retention-bench-')) }, logger: createLogger('warn'), metrics: createMetrics() });
await migrate(db);
const eventLog = createEventLog(db, await requireModel('models/default.yaml'));
const windowStore = createWindowStore(db);

let seed = 42;
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
const TYPES = ['purchase', 'purchase', 'purchase', 'purchase', 'purchase', 'purchase', 'purchase', 'signup', 'upgrade', 'churn'] as const;
const start = Date.UTC(2026, 0, 5);
function event(i: number): WindowEvent {
  const type = TYPES[Math.floor(rand() * TYPES.length)]!;
  const tenantId = TENANTS[i % TENANTS.length]!;
  return {
    key: randomUUID(),
    eventType: type,
    userId: `user-${Math.floor(rand() * 10_000)}`,
    tenantId,
    currency: rand() < 0.8 ? 'USD' : 'EUR',
    amount: type === 'purchase' ? `${Math.floor(rand() * 500)}.${String(Math.floor(rand() * 100)).padStart(2, '0')}` : undefined,
    traceId: randomBytes(16).toString('hex'),
    timestamp: start + Math.floor((i / N) * SPAN_MS),
  };
}

const engine = createWindowEngine({ allowedLatenessMs: 0 });
let ndjsonBytes = 0;
const t0 = performance.now();
for (let i = 0, seq = 1; i < N; i += BATCH, seq++) {
  const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => event(i + k));
  for (const e of batch) {
    ndjsonBytes += Buffer.byteLength(JSON.stringify({ eventId: e.key, eventType: e.eventType, userId: e.userId, tenantId: e.tenantId, amount: e.amount, currency: e.currency, traceId: e.traceId, timestamp: e.timestamp })) + 1;
    engine.add(e, e.timestamp);
  }
  await eventLog.append(batch, { source: 'http', seq, token: `bench:${seq}` });
  if (seq % 10 === 0) process.stderr.write(`\rappended ${i + batch.length}/${N}`);
}
const appendSeconds = (performance.now() - t0) / 1000;
engine.advance(start + SPAN_MS + 3_600_000);
const updates = engine.collect();
for (let i = 0; i < updates.length; i += 5_000) await windowStore.write(updates.slice(i, i + 5_000), (ref) => engine.usersOf(ref), 'http');
process.stderr.write(`\rappended ${N} events in ${appendSeconds.toFixed(1)} s; wrote ${updates.length} windows\n`);

await db.command({ queryId: 'bench.optimize_events', sql: 'OPTIMIZE TABLE events FINAL' });
await db.command({ queryId: 'bench.optimize_windows', sql: 'OPTIMIZE TABLE windows FINAL' });
const parts = await db.query({
  queryId: 'bench.parts',
  sql: `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(data_uncompressed_bytes) AS raw
        FROM system.parts WHERE database = currentDatabase() AND active AND table IN ('events', 'windows') GROUP BY table ORDER BY table`,
  row: z.object({ table: z.string(), rows: z.coerce.number(), disk: z.coerce.number(), raw: z.coerce.number() }),
});
const columns = await db.query({
  queryId: 'bench.columns',
  sql: `SELECT table, column, sum(column_data_compressed_bytes) AS disk FROM system.parts_columns
        WHERE database = currentDatabase() AND active AND table IN ('events', 'windows') GROUP BY table, column ORDER BY table, disk DESC`,
  row: z.object({ table: z.string(), column: z.string(), disk: z.coerce.number() }),
});
await db.close();

const mb = (b: number) => `${(b / 1_048_576).toFixed(1)} MiB`;
const perMillion = (b: number) => mb((b / N) * 1_000_000);
console.log(`\n${N.toLocaleString('en')} events, ${TENANTS.length} tenants × 2 currencies over ${args.days} days → ${updates.length.toLocaleString('en')} windows (${(N / updates.length).toFixed(1)} events/window)\n`);
console.log('table     rows         on disk      uncompressed   per event   per 1M events');
for (const p of parts) console.log(`${p.table.padEnd(9)} ${String(p.rows).padEnd(12)} ${mb(p.disk).padEnd(12)} ${mb(p.raw).padEnd(14)} ${`${(p.disk / N).toFixed(1)} B`.padEnd(11)} ${perMillion(p.disk)}`);
console.log(`${'baseline: the same events as NDJSON'.padEnd(36)} ${mb(ndjsonBytes).padEnd(14)} ${`${(ndjsonBytes / N).toFixed(1)} B`.padEnd(11)} ${perMillion(ndjsonBytes)}`);
const w = parts.find((p) => p.table === 'windows');
if (w) console.log(`windows: ${(w.disk / w.rows).toFixed(1)} B per window on disk`);
console.log('\nlargest columns on disk:');
for (const table of ['events', 'windows']) {
  console.log(`  ${table}: ${columns.filter((c) => c.table === table).slice(0, 5).map((c) => `${c.column} ${mb(c.disk)}`).join(', ')}`);
}
