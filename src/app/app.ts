/**
 * Composition root: builds Tilecast from config and owns start/stop order.
 * Embedded default = chdb + in-process bus + HTTP intake whose sink is the event log and
 * the in-process aggregator (`embeddedIngest`). `tilecast api` passes another `ingest`
 * (its sink produces to Kafka; src/app/api.ts).
 */
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.ts';
import { createAggregator, type Aggregator } from '../aggregate/aggregator.ts';
import { prepareBackfill } from '../aggregate/backfill/background.ts';
import { createTokenService, resolveSecret } from '../auth/tokens.ts';
import { createIntake, HTTP_SOURCE, type HttpRef } from '../ingest/intake.ts';
import type { EventSink } from '../ingest/pipeline/pipeline.ts';
import { createLoggedSink } from '../ingest/sinks.ts';
import { requireModel } from '../model/compile.ts';
import type { ModelPlan } from '../model/types.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { withSpan } from '../observability/tracing.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createUpdateBus } from '../realtime/index.ts';
import type { CatchUpHooks } from '../resolvers/subscription-catchup.ts';
import { createDeadLetters } from '../storage/dead-letters.ts';
import { createEventLog } from '../storage/event-log.ts';
import { createMetricWindowStore } from '../storage/metric-window-store.ts';
import { createBackfillStore } from '../storage/backfill-store.ts';
import { createProgressStore } from '../storage/progress-store.ts';
import type { ProcessRole } from '../storage/publications.ts';
import { createWindowStore } from '../storage/window-store.ts';
import { createCoverageFeed } from './coverage-feed.ts';
import { createFreshnessFeed } from './freshness-feed.ts';
import { createGraphQLApi } from './graphql-api.ts';
import { createHttpFront } from './http-front.ts';
import type { Readiness } from './http-server.ts';
import { busCheck, runChecks, storageChecks, type CheckFn } from './readiness.ts';
import type { SourceFilter } from './sources.ts';
import { openStorage } from './storage.ts';

/** What an ingest back end is built from. */
export interface IngestParts {
  config: Config;
  /** The metric model this process runs. */
  plan: ModelPlan;
  clock: () => number;
  logger: Logger;
  metrics: ReturnType<typeof createMetrics>;
  eventLog: ReturnType<typeof createEventLog>;
  windowStore: ReturnType<typeof createWindowStore>;
  /** Where the aggregator writes the model's cells (metric_windows). */
  metricStore: ReturnType<typeof createMetricWindowStore>;
  /** Backfill coverage of the model's metrics (src/aggregate/backfill/). */
  backfillStore: ReturnType<typeof createBackfillStore>;
  progressStore: ReturnType<typeof createProgressStore>;
  bus: ReturnType<typeof createUpdateBus>;
}

/** Where the intake's counted events go, and what runs behind it. */
export interface IngestBackend {
  sink: EventSink<HttpRef>;
  /** Whether the sink is the only writer of its tenants' events (src/ingest/pipeline/key-index.ts). */
  soleWriter: boolean;
  /** The in-process aggregator, when this process aggregates. */
  aggregator: Aggregator | null;
  start(): void;
  stop(): Promise<void>;
  /** The /readyz check `aggregator`. */
  ready: CheckFn;
}

/**
 * `tilecast start`: the event log + the in-process aggregator of the HTTP intake's source,
 * and the background backfill of the model's metrics (recorded live before the aggregator writes).
 */
export async function embeddedIngest(p: IngestParts) {
  const { plan } = p;
  const backfill = await prepareBackfill({
    plan,
    eventLog: p.eventLog,
    metricStore: p.metricStore,
    store: p.backfillStore,
    logger: p.logger,
    at: p.clock(),
    redisUrl: p.config.redisUrl,
    prefix: p.config.realtime.channelPrefix,
  });
  const aggregator = createAggregator({
    source: HTTP_SOURCE,
    eventLog: p.eventLog,
    windowStore: p.windowStore,
    progressStore: p.progressStore,
    bus: p.bus,
    clock: p.clock,
    logger: p.logger,
    metrics: p.metrics,
    allowedLatenessMs: p.config.aggregate.allowedLatenessMs,
    flushIntervalMs: p.config.aggregate.flushIntervalMs,
    plan,
    metricStore: p.metricStore,
  });
  await aggregator.recover();
  return {
    sink: await createLoggedSink<HttpRef>({ eventLog: p.eventLog, source: HTTP_SOURCE, consumer: aggregator }),
    soleWriter: true,
    aggregator,
    start: () => {
      aggregator.start();
      backfill.start();
    },
    stop: async () => {
      await backfill.stop();
      await aggregator.stop();
    },
    ready: async () => ({ ok: aggregator.isRunning(), detail: aggregator.isRunning() ? 'running' : 'stopped' }),
  } satisfies IngestBackend;
}

type EmbeddedIngest = Awaited<ReturnType<typeof embeddedIngest>>;

export interface AppOptions<B extends IngestBackend = EmbeddedIngest> {
  config: Config;
  /** The metric model; default: TILECAST_MODEL (config.model.path), loaded once here (throws ModelFileError). */
  plan?: ModelPlan;
  clock?: () => number;
  logger?: Logger;
  /** Demo mode (`tilecast start --demo`): the dashboard and GraphiQL open with a read token for this tenant. */
  demo?: { tenantId: string };
  /** Built dashboard directory (default dist/web). */
  webRoot?: string;
  /** Where POST /v1/events' counted events go; default `embeddedIngest` (`tilecast api`: to Kafka). */
  ingest?: (parts: IngestParts) => Promise<B>;
  /** More /readyz checks (e.g. `kafka` for `tilecast api`). */
  readinessChecks?: Record<string, CheckFn>;
  /** Tests only: hooks into the subscription hub's catch-ups (e.g. a slow read). */
  subscriptionHooks?: CatchUpHooks;
  /** The aggregator sources whose progress counts for freshness (src/app/sources.ts); default: the embedded HTTP intake's. */
  sources?: SourceFilter;
  /** What this process publishes it computes and serves (src/storage/publications.ts); default `embedded` (`tilecast api`: `api`). */
  role?: Extract<ProcessRole, 'embedded' | 'api'>;
}

export async function createApp<B extends IngestBackend = EmbeddedIngest>(o: AppOptions<B>) {
  const { config } = o;
  const clock = o.clock ?? Date.now;
  const logger = o.logger ?? createLogger(config.server.logLevel);
  // Before anything opens: a bad model is refused with every error in it.
  const model = o.plan ?? (await requireModel(config.model.path));
  const metrics = createMetrics();
  // `plan`: the model as this storage runs it (published formulas keep their pinned operands).
  const { db, plan } = await openStorage({ config, model, logger, metrics, role: o.role ?? 'embedded' });

  const eventLog = createEventLog(db, plan);
  const windowStore = createWindowStore(db);
  const metricStore = createMetricWindowStore(db);
  const progressStore = createProgressStore(db);
  const deadLetters = createDeadLetters(db);
  const bus = createUpdateBus({ redisUrl: config.redisUrl, channelPrefix: config.realtime.channelPrefix, logger, metrics });
  const tokens = createTokenService(resolveSecret(config.auth.secret, config.storage.dataDir), { jwks: config.auth.jwks });
  const feed = await createFreshnessFeed({ config, clock, sources: o.sources, progressStore, windowStore, bus, metrics });
  const { freshness } = feed;
  const redis = config.redisUrl ? busCheck(bus) : null;

  const makeIngest = o.ingest ?? (embeddedIngest as unknown as (p: IngestParts) => Promise<B>);
  const backfillStore = createBackfillStore(db);
  const ingest = await makeIngest({ config, plan, clock, logger, metrics, eventLog, windowStore, metricStore, backfillStore, progressStore, bus });
  const intake = createIntake({
    plan,
    eventLog,
    deadLetters,
    metrics,
    clock,
    currencyBudget: config.aggregate.currencyBudget,
    retentionDays: config.retention.eventsDays,
    sink: ingest.sink,
    soleWriter: ingest.soleWriter,
  });

  const coverageFeed = await createCoverageFeed({ plan, store: backfillStore, clock, logger });
  const api = createGraphQLApi({ config, plan, db, clock, logger, metrics, bus, freshness, coverage: coverageFeed.coverage, deadLetters, tokens, demo: o.demo, subscriptionHooks: o.subscriptionHooks });
  // Per dependency, as configured: ClickHouse + migrations always, Redis with REDIS_URL, Kafka from `tilecast api`.
  const readiness = (): Promise<Readiness> =>
    runChecks({
      ...storageChecks(db, config.storage.clickhouse.kind),
      ...(redis ? { redis: redis.check } : {}),
      ...o.readinessChecks,
      aggregator: ingest.ready,
    });
  const { server, sockets } = createHttpFront({ config, intake, tokens, graphql: api.graphql, demoToken: api.demoToken, webRoot: o.webRoot, readiness, metrics, logger });

  return {
    config,
    /** The metric model as this storage runs it (src/app/storage.ts): published formulas keep their pinned operands. */
    plan,
    metrics,
    tokens,
    intake,
    /** The in-process aggregator (`tilecast start`); null where workers aggregate. */
    aggregator: ingest.aggregator as B['aggregator'],
    freshness,
    /** The API's cache of closed series parts (src/resolvers/series-cache/). */
    seriesCache: api.seriesCache,
    db,
    logger,
    /** Starts the aggregator and listens; resolves with the base URL. */
    async start(): Promise<{ url: string; port: number }> {
      ingest.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.server.port, config.server.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      return { url: `http://${config.server.host}:${port}`, port };
    },
    /**
     * Graceful, in order: stop accepting (listener closed; requests on open keep-alive
     * connections get 503 + Connection: close; in-flight ones finish) → flush windows
     * (every 202-acknowledged event is logged already; the flush writes its windows and
     * progress, and publishes the last updates) → close subscribers with 1001 Going Away
     * → close HTTP connections → close Redis and ClickHouse.
     */
    async stop(): Promise<void> {
      await withSpan('app.stop', {}, async () => {
        const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
        await server.drain();
        await ingest.stop();
        await sockets.close();
        server.closeAllConnections();
        await closed;
        feed.close();
        coverageFeed.close();
        redis?.close();
        await api.close();
        await bus.close();
        await db.close();
      });
      logger.info('stopped');
    },
  };
}

export type App<B extends IngestBackend = EmbeddedIngest> = Awaited<ReturnType<typeof createApp<B>>>;
