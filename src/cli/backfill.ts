/**
 * `tilecast backfill [--metric name@v ...]`: writes the model's metrics (all stored ones,
 * or the given versions) for the minutes written before live computation of them began,
 * from the event log (src/aggregate/backfill/backfill.ts), with a progress bar in events
 * (and events/s) on stderr and a summary on stdout. Resumes where an interrupted run (or
 * the background backfill of `start`/`worker`) left off; a second run finds nothing to do.
 *
 * Takes the deployment's backfill lease (Redis with REDIS_URL); a metric no process has
 * computed live yet is reported and skipped: start `tilecast start`/`worker` with the model
 * first. Embedded mode: chdb opens DATA_DIR in one process at a time, so stop `tilecast
 * start` first (or serve the data dir with `npm run chdb-server` and set CLICKHOUSE_URL).
 */
import { parseArgs } from 'node:util';
import { runBackfill } from '../aggregate/backfill/backfill.ts';
import { createLease } from '../aggregate/backfill/lease.ts';
import { loadConfig } from '../config/index.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createBackfillStore } from '../storage/backfill-store.ts';
import { createClickHouse } from '../storage/clickhouse.ts';
import { createEventLog } from '../storage/event-log.ts';
import { createMetricWindowStore } from '../storage/metric-window-store.ts';
import { checkDefinitions } from '../storage/definitions.ts';
import { migrate } from '../storage/migrations.ts';
import { createProgress } from './progress.ts';

export class BackfillUsageError extends Error {}

export function parseBackfillArgs(argv: string[]): { metrics: string[] } {
  const { values } = parseArgs({ args: argv, options: { metric: { type: 'string', multiple: true } } });
  const metrics = values.metric ?? [];
  const bad = metrics.filter((m) => !/^[a-z][a-z0-9_]*@[1-9][0-9]*$/.test(m));
  if (bad.length) throw new BackfillUsageError(`--metric takes name@version, e.g. revenue@2: ${bad.join(', ')}`);
  return { metrics };
}

/**
 * Crash tests: TILECAST_BACKFILL_KILL_AFTER_CHUNKS=N kills this process with SIGKILL once
 * the N-th chunk's rows are written and before its range is recorded (the worst moment).
 */
function killPoint(): ((chunks: number) => void) | undefined {
  const n = Number(process.env.TILECAST_BACKFILL_KILL_AFTER_CHUNKS ?? '');
  if (!Number.isInteger(n) || n < 1) return undefined;
  return (chunks) => {
    if (chunks >= n) process.kill(process.pid, 'SIGKILL');
  };
}

export async function runBackfillCli(argv: string[]): Promise<void> {
  const args = parseBackfillArgs(argv);
  const config = loadConfig(process.env);
  const logger = createLogger(config.server.logLevel === 'info' ? 'warn' : config.server.logLevel);
  const model = await requireModel(config.model.path);
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics: createMetrics() });
  const lease = createLease(config.redisUrl, config.realtime.channelPrefix);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await migrate(db);
    // A version whose published definition differs is refused, as at start: its rows would mean something else.
    const { plan } = await checkDefinitions(db, model);
    if (!(await lease.acquire())) throw new Error('another process is backfilling this deployment (its lease is held); try again later');
    const progress = createProgress({ unit: 'events' });
    const store = createBackfillStore(db);
    const r = await runBackfill(
      { plan, eventLog: createEventLog(db, plan), metricStore: createMetricWindowStore(db), store, logger, signal: abort.signal, onProgress: (d, n) => progress.update(d, n), afterWrite: killPoint() },
      args.metrics,
    );
    progress.finish();
    for (const id of r.notLive) console.error(`note: ${id} is not computed live by any process yet: start tilecast with this model first; skipped`);
    const ids = plan.measures.map((m) => m.id).filter((id) => args.metrics.length === 0 || args.metrics.includes(id));
    const incomplete = await store.incompleteBefore(ids);
    const rate = r.elapsedMs > 0 ? Math.round((r.events / r.elapsedMs) * 1000) : 0;
    console.log(
      `backfilled ${r.metrics.length ? r.metrics.join(', ') : 'nothing (every metric is complete)'}: ${r.events} events in ${r.windows} windows, ` +
        `${r.rows} rows, ${r.chunks} hours, ${(r.elapsedMs / 1000).toFixed(1)} s (${rate} events/s)${r.stopped ? '; interrupted: run again to resume' : ''}`,
    );
    for (const [id, before] of incomplete) console.log(`  ${id}: ${before === null ? 'complete' : `incomplete before ${new Date(before).toISOString()}`}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lease.close();
    await db.close();
  }
}
