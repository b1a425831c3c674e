/**
 * `tilecast replay --tenant T --from ISO --to ISO [--chunk-size N]`: rebuilds one
 * tenant's windows in a time range from the event log (src/aggregate/replay.ts), with
 * a progress bar and ETA on stderr, and a one-line summary on stdout.
 *
 * Embedded mode: chdb opens DATA_DIR in one process at a time, so stop `tilecast start`
 * first (or serve the data dir with `npm run chdb-server` and set CLICKHOUSE_URL). With
 * REDIS_URL, rewritten windows are published so open dashboards update.
 */
import { parseArgs } from 'node:util';
import { replayWindows } from '../aggregate/replay.ts';
import { loadConfig } from '../config/index.ts';
import { tenantIdSchema } from '../contracts/event.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createUpdateBus } from '../realtime/index.ts';
import { createClickHouse } from '../storage/clickhouse.ts';
import { createEventLog } from '../storage/event-log.ts';
import { createMetricWindowStore } from '../storage/metric-window-store.ts';
import { migrate } from '../storage/migrations.ts';
import { createProgressStore } from '../storage/progress-store.ts';
import { createReplayReader } from '../storage/replay-reader.ts';
import { createWindowStore } from '../storage/window-store.ts';
import { createProgress } from './progress.ts';

export class UsageError extends Error {}

/** Parses and checks the arguments; every problem at once. */
export function parseReplayArgs(argv: string[]): { tenantId: string; from: number; to: number; chunkSize: number } {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'chunk-size': { type: 'string', default: '200' } },
  });
  const problems: string[] = [];
  const tenant = tenantIdSchema.safeParse(values.tenant ?? '');
  if (!values.tenant) problems.push('--tenant is required');
  else if (!tenant.success) problems.push(`--tenant: ${tenant.error.issues[0]?.message}`);
  const from = Date.parse(values.from ?? '');
  const to = Date.parse(values.to ?? '');
  if (!values.from || Number.isNaN(from)) problems.push('--from must be an ISO-8601 instant, e.g. 2026-01-01T00:00:00Z');
  if (!values.to || Number.isNaN(to)) problems.push('--to must be an ISO-8601 instant, e.g. 2026-01-02T00:00:00Z');
  if (!Number.isNaN(from) && !Number.isNaN(to) && from >= to) problems.push('--from must be before --to');
  const chunkSize = Number(values['chunk-size']);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 5_000) problems.push('--chunk-size must be an integer in 1..5000');
  if (problems.length) throw new UsageError(problems.join('\n'));
  return { tenantId: values.tenant!, from, to, chunkSize };
}

export async function runReplay(argv: string[]): Promise<void> {
  const args = parseReplayArgs(argv);
  const config = loadConfig(process.env);
  const plan = await requireModel(config.model.path);
  const logger = createLogger(config.server.logLevel === 'info' ? 'warn' : config.server.logLevel);
  const metrics = createMetrics();
  const db = await createClickHouse({ config: config.storage.clickhouse, logger, metrics });
  const bus = config.redisUrl ? createUpdateBus({ redisUrl: config.redisUrl, channelPrefix: config.realtime.channelPrefix, logger, metrics }) : null;
  try {
    await migrate(db);
    const progress = createProgress({ unit: 'windows' });
    const r = await replayWindows(
      {
        eventLog: createEventLog(db, plan),
        windowStore: createWindowStore(db),
        progressStore: createProgressStore(db),
        reader: createReplayReader(db),
        plan,
        metricStore: createMetricWindowStore(db),
        logger,
        publish: bus ? (updates) => bus.publishWindows(updates) : undefined,
      },
      { ...args, onProgress: (done, total) => progress.update(done, total) },
    );
    progress.finish();
    const iso = (ms: number) => new Date(ms).toISOString();
    if (r.open > 0) {
      console.error(`note: ${r.open} windows in range are past their aggregator's watermark (not final yet): left to the aggregator, which rebuilds them from the log itself`);
    }
    console.log(
      `replayed ${args.tenantId} ${iso(r.from)} → ${iso(r.to)}: ${r.windows} windows from ${r.events} logged events; ` +
        `${r.rewritten} rewritten with a higher revision, ${r.unchanged} already matched the log`,
    );
  } finally {
    await bus?.close();
    await db.close();
  }
}
