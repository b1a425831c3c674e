/** `tilecast migrate`: applies migrations/ in order (idempotent), then the retention TTLs. */
import { loadConfig } from '../config/index.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrations.ts';
import { applyRetention } from '../storage/retention.ts';

export async function runMigrate(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.server.logLevel);
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics: createMetrics() });
  try {
    const r = await migrate(db);
    console.log(`applied: ${r.applied.join(', ') || 'none'}; already applied: ${r.skipped.length}`);
    const ttl = await applyRetention(db, config.retention);
    console.log(`retention: ${ttl.map((c) => `${c.table} ${c.from || '∞'} → ${c.to || '∞'} days`).join(', ') || 'unchanged'}`);
  } finally {
    await db.close();
  }
}
