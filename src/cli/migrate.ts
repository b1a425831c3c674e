/**
 * `tilecast migrate`: applies migrations/ in order (idempotent), the retention TTLs, and
 * publishes the metric versions of TILECAST_MODEL (refused, nothing published, when the
 * model changes a version already published: docs/metrics.md).
 */
import { loadConfig } from '../config/index.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createClickHouse } from '../storage/clickhouse.ts';
import { recordDefinitions } from '../storage/definitions.ts';
import { migrate } from '../storage/migrations.ts';
import { applyRetention } from '../storage/retention.ts';

export async function runMigrate(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.server.logLevel);
  const model = await requireModel(config.model.path);
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics: createMetrics() });
  try {
    const r = await migrate(db);
    console.log(`applied: ${r.applied.join(', ') || 'none'}; already applied: ${r.skipped.length}`);
    const ttl = await applyRetention(db, config.retention);
    console.log(`retention: ${ttl.map((c) => `${c.table} ${c.from || '∞'} → ${c.to || '∞'} days`).join(', ') || 'unchanged'}`);
    const published = await recordDefinitions(db, model);
    console.log(`model ${config.model.path}: published ${published.recorded.join(', ') || 'nothing new'}; already published: ${published.alreadyPublished}`);
  } finally {
    await db.close();
  }
}
