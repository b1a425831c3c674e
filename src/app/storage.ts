/**
 * Opens ClickHouse for a long-running process (`start`, `api`, `worker`): connects,
 * applies pending migrations, and brings the retention TTLs in line with the config.
 */
import type { Config } from '../config/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrations.ts';
import { applyRetention } from '../storage/retention.ts';

export async function openStorage(deps: { config: Config; logger: Logger; metrics: Metrics }): Promise<ClickHouse> {
  const { config, logger, metrics } = deps;
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics });
  const migrations = await migrate(db);
  if (migrations.applied.length) logger.info({ applied: migrations.applied }, 'migrations applied');
  const retention = await applyRetention(db, config.retention);
  if (retention.length) logger.info({ retention }, 'retention (TTL) changed');
  return db;
}
