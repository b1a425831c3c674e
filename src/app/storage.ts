/**
 * Opens ClickHouse for a long-running process (`start`, `api`, `worker`): connects,
 * applies pending migrations, brings the retention TTLs in line with the config, and
 * publishes the process's metric model (`model`, loaded from TILECAST_MODEL by the caller):
 *
 * 1. its versions are checked against the published ones: a changed definition under the
 *    same version refuses the start (src/storage/definitions.ts);
 * 2. with a ClickHouse server (shared by other processes), the process records what it
 *    computes and serves and refuses to start if a process that started earlier computes
 *    a version its model lacks (src/storage/publications.ts). Embedded chdb has one
 *    process per data directory, so there is nobody to agree with;
 * 3. its versions not yet published are recorded.
 *
 * The plan returned is the model as this storage runs it: published formulas keep the
 * operand versions they were published with.
 *
 * Closing the returned handle first marks the process stopped.
 */
import type { Config } from '../config/index.ts';
import type { ModelPlan } from '../model/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../storage/clickhouse.ts';
import { checkDefinitions, recordDefinitions } from '../storage/definitions.ts';
import { migrate } from '../storage/migrations.ts';
import { publishProcess, type ProcessRole } from '../storage/publications.ts';
import { applyRetention } from '../storage/retention.ts';

export async function openStorage(deps: { config: Config; model: ModelPlan; logger: Logger; metrics: Metrics; role: ProcessRole }): Promise<{ db: ClickHouse; plan: ModelPlan }> {
  const { config, model, logger, metrics, role } = deps;
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics });
  try {
    const migrations = await migrate(db);
    if (migrations.applied.length) logger.info({ applied: migrations.applied }, 'migrations applied');
    const retention = await applyRetention(db, config.retention);
    if (retention.length) logger.info({ retention }, 'retention (TTL) changed');
    // Checked first, recorded last: a refused start publishes nothing.
    const { plan } = await checkDefinitions(db, model);
    const publication = config.storage.clickhouse.kind === 'server' ? await publishProcess({ db, plan, role, modelPath: config.model.path, logger }) : null;
    try {
      const published = await recordDefinitions(db, model);
      if (published.recorded.length) logger.info({ model: config.model.path, published: published.recorded }, 'metric versions published');
    } catch (err) {
      await publication?.stop();
      throw err;
    }
    if (!publication) return { db, plan };
    const close = db.close;
    return {
      db: {
        ...db,
        async close() {
          await publication.stop();
          await close();
        },
      },
      plan,
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
