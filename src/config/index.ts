/**
 * The one place that reads the environment. Every variable is validated here, per
 * section, and all problems are reported at once so a misconfigured deploy fails
 * with the full list instead of one error per restart.
 */
import { z } from 'zod';

const intMs = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const serverSection = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(5 * 1024 * 1024),
  // GraphQL request bodies (a 50-series dashboard query is ~10 KiB); larger ones get 413.
  GRAPHQL_MAX_BODY_BYTES: z.coerce.number().int().positive().default(256 * 1024),
  // Per-tenant rate of GraphQL requests and subscribe messages (token bucket; shared through Redis with REDIS_URL).
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().positive().default(200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // SIGTERM: how long a graceful stop may take before the process exits 1 anyway (below Kubernetes' 30 s grace).
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(25_000),
});

const observabilitySection = z.object({
  // OTLP/HTTP collector base URL (e.g. http://otel-collector:4318): traces and OTel metrics are exported there. Unset: no exporter.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  OTEL_SERVICE_NAME: z.string().min(1).default('tilecast'),
  // Days to keep (0 = forever): the event log by event time, windows by window start. Applied at start/migrate (src/storage/retention.ts).
  RETENTION_EVENTS_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  RETENTION_WINDOWS_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
});

const storageSection = z.object({
  DATA_DIR: z.string().min(1).default('./.tilecast'),
  CLICKHOUSE_URL: optionalString.pipe(z.url().optional()),
  CLICKHOUSE_USER: optionalString,
  CLICKHOUSE_PASSWORD: optionalString,
  CLICKHOUSE_DATABASE: optionalString,
  // Longest wait for one ClickHouse call attempt (reads and safe writes are retried twice on transient failures).
  CLICKHOUSE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
});

const authSection = z.object({
  AUTH_SECRET: optionalString.pipe(z.string().min(32, 'AUTH_SECRET must be at least 32 characters').optional()),
  // An identity provider's JWKS: its RS256 tokens are accepted too (needs AUTH_ISSUER and AUTH_AUDIENCE).
  AUTH_JWKS_URL: optionalString.pipe(z.url().optional()),
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  AUTH_TENANT_CLAIM: z.string().min(1).default('tenant'),
  AUTH_SCOPE_CLAIM: z.string().min(1).default('scope'),
});

const kafkaSection = z.object({
  KAFKA_BROKERS: optionalString,
  KAFKA_TOPIC: z.string().min(1).default('business.events.raw'),
  KAFKA_DLQ_TOPIC: z.string().min(1).default('business.events.dlq'),
  KAFKA_GROUP_ID: z.string().min(1).default('tilecast-aggregator'),
  // A dead worker's partitions wait this long before moving to another worker.
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).default(30_000),
  // Partitions of KAFKA_TOPIC when tilecast creates it (an existing topic is left alone).
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().positive().default(4),
  // `tilecast worker` serves /metrics, /healthz and /readyz here.
  WORKER_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
});

const schemaRegistrySection = z.object({
  // Confluent-compatible schema registry API base (e.g. Apicurio's http://host:8080/apis/ccompat/v7). Set: producers frame
  // records with the registered schema's id and workers read framed records (docs/kafka-producers.md).
  SCHEMA_REGISTRY_URL: optionalString.pipe(z.url().optional()),
  // The subject events are registered under; default `<KAFKA_TOPIC>-value` (the registry's topic naming).
  SCHEMA_SUBJECT: optionalString.pipe(z.string().max(255).optional()),
});

const realtimeSection = z.object({
  REDIS_URL: optionalString,
  // Deployments (or test runs) sharing one Redis use different prefixes; no glob characters.
  REDIS_CHANNEL_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'REDIS_CHANNEL_PREFIX: [A-Za-z0-9_.:-], at most 64').default('tilecast'),
  MAX_WS_CONNECTIONS: z.coerce.number().int().positive().default(10_000),
  MAX_SUBSCRIPTIONS_PER_TENANT: z.coerce.number().int().positive().default(5_000),
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().positive().default(1_048_576),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
  SUBSCRIPTION_FANOUT: z.enum(['shared', 'per-subscriber']).default('shared'),
});

const aggregateSection = z.object({
  ALLOWED_LATENESS_MS: intMs(10_000),
  FLUSH_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  STALE_AFTER_MS: z.coerce.number().int().positive().default(30_000),
  CURRENCY_BUDGET: z.coerce.number().int().positive().default(20),
});

const seriesCacheSection = z.object({
  // API processes keep closed (final) parts of model series reads in memory, per tenant, up to this budget; 0 turns the cache off.
  SERIES_CACHE_MB: z.coerce.number().min(0).default(64),
  // Tenants with cached reads, each holding a window-update subscription (least recently used ones are given up).
  SERIES_CACHE_TENANTS: z.coerce.number().int().positive().default(1_000),
  // Longest an entry is served, even if no update invalidated it; default STALE_AFTER_MS.
  SERIES_CACHE_MAX_AGE_MS: optionalString.pipe(z.coerce.number<string | undefined>().int().positive().optional()),
});

const modelSection = z.object({
  // The metric model file every process reads (docs/metrics.md).
  TILECAST_MODEL: z.string().trim().min(1).default('models/default.yaml'),
});

const envSchema = serverSection
  .extend(storageSection.shape)
  .extend(authSection.shape)
  .extend(kafkaSection.shape)
  .extend(schemaRegistrySection.shape)
  .extend(realtimeSection.shape)
  .extend(aggregateSection.shape)
  .extend(observabilitySection.shape)
  .extend(seriesCacheSection.shape)
  .extend(modelSection.shape);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface Config {
  server: {
    port: number;
    host: string;
    maxBodyBytes: number;
    logLevel: z.infer<typeof serverSection>['LOG_LEVEL'];
    graphqlMaxBodyBytes: number;
    rateLimit: { perSecond: number; burst: number };
    shutdownTimeoutMs: number;
  };
  storage: {
    dataDir: string;
    clickhouse:
      | { kind: 'embedded'; path: string; timeoutMs?: number }
      | { kind: 'server'; url: string; user?: string; password?: string; database?: string; timeoutMs?: number };
  };
  auth: { secret?: string; jwks?: { url: string; issuer: string; audience: string; tenantClaim: string; scopeClaim: string } };
  kafka?: { brokers: string[]; topic: string; dlqTopic: string; groupId: string; sessionTimeoutMs: number; topicPartitions: number; workerPort: number };
  /** Set with SCHEMA_REGISTRY_URL. */
  schemaRegistry?: { url: string; subject: string };
  redisUrl?: string;
  realtime: {
    channelPrefix: string;
    maxConnections: number;
    maxSubscriptionsPerTenant: number;
    maxBufferedBytes: number;
    heartbeatIntervalMs: number;
    fanout: 'shared' | 'per-subscriber';
  };
  aggregate: { allowedLatenessMs: number; flushIntervalMs: number; staleAfterMs: number; currencyBudget: number };
  observability: { otlpEndpoint?: string; serviceName: string };
  /** The API's cache of closed series parts (src/resolvers/series-cache/); maxBytes 0 = off. */
  seriesCache: { maxBytes: number; maxTenants: number; maxAgeMs: number };
  /** Days to keep; 0 = forever. */
  retention: { eventsDays: number; windowsDays: number };
  /** Path of the metric model file (TILECAST_MODEL). */
  model: { path: string };
}

/** Parses `env` (normally `process.env`) into a typed Config or throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.AUTH_JWKS_URL && (!e.AUTH_ISSUER || !e.AUTH_AUDIENCE)) {
    throw new ConfigError(['AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE: tokens of the identity provider are checked against both']);
  }
  if (e.SCHEMA_SUBJECT && !e.SCHEMA_REGISTRY_URL) {
    throw new ConfigError(['SCHEMA_SUBJECT is set but SCHEMA_REGISTRY_URL is not: without a registry records are plain JSON and the subject is unused']);
  }
  const brokers = e.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean);
  return {
    server: {
      port: e.PORT,
      host: e.HOST,
      maxBodyBytes: e.MAX_BODY_BYTES,
      logLevel: e.LOG_LEVEL,
      graphqlMaxBodyBytes: e.GRAPHQL_MAX_BODY_BYTES,
      rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    storage: {
      dataDir: e.DATA_DIR,
      clickhouse: e.CLICKHOUSE_URL
        ? {
            kind: 'server',
            url: e.CLICKHOUSE_URL,
            user: e.CLICKHOUSE_USER,
            password: e.CLICKHOUSE_PASSWORD,
            database: e.CLICKHOUSE_DATABASE,
            timeoutMs: e.CLICKHOUSE_TIMEOUT_MS,
          }
        : { kind: 'embedded', path: `${e.DATA_DIR}/clickhouse`, timeoutMs: e.CLICKHOUSE_TIMEOUT_MS },
    },
    auth: {
      secret: e.AUTH_SECRET,
      jwks:
        e.AUTH_JWKS_URL && e.AUTH_ISSUER && e.AUTH_AUDIENCE
          ? { url: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE, tenantClaim: e.AUTH_TENANT_CLAIM, scopeClaim: e.AUTH_SCOPE_CLAIM }
          : undefined,
    },
    kafka: brokers?.length
      ? {
          brokers,
          topic: e.KAFKA_TOPIC,
          dlqTopic: e.KAFKA_DLQ_TOPIC,
          groupId: e.KAFKA_GROUP_ID,
          sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
          topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
          workerPort: e.WORKER_PORT,
        }
      : undefined,
    schemaRegistry: e.SCHEMA_REGISTRY_URL ? { url: e.SCHEMA_REGISTRY_URL, subject: e.SCHEMA_SUBJECT ?? `${e.KAFKA_TOPIC}-value` } : undefined,
    redisUrl: e.REDIS_URL,
    realtime: {
      channelPrefix: e.REDIS_CHANNEL_PREFIX,
      maxConnections: e.MAX_WS_CONNECTIONS,
      maxSubscriptionsPerTenant: e.MAX_SUBSCRIPTIONS_PER_TENANT,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
      fanout: e.SUBSCRIPTION_FANOUT,
    },
    aggregate: {
      allowedLatenessMs: e.ALLOWED_LATENESS_MS,
      flushIntervalMs: e.FLUSH_INTERVAL_MS,
      staleAfterMs: e.STALE_AFTER_MS,
      currencyBudget: e.CURRENCY_BUDGET,
    },
    observability: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
    seriesCache: { maxBytes: Math.round(e.SERIES_CACHE_MB * 1024 * 1024), maxTenants: e.SERIES_CACHE_TENANTS, maxAgeMs: e.SERIES_CACHE_MAX_AGE_MS ?? e.STALE_AFTER_MS },
    retention: { eventsDays: e.RETENTION_EVENTS_DAYS, windowsDays: e.RETENTION_WINDOWS_DAYS },
    model: { path: e.TILECAST_MODEL },
  };
}

/** What `tilecast api` runs on: the validated config with the parts that mode cannot do without. */
export type ApiConfig = Config & { kafka: NonNullable<Config['kafka']>; redisUrl: string };

/**
 * Refuses a `tilecast api` configuration that cannot work (DESIGN.md: refused at start with
 * a message that says what to set). The api process produces events to Kafka and
 * aggregates nothing itself: its window updates and freshness ticks come from the workers
 * over Redis. Without REDIS_URL it would start, say it is ready, and its tiles would never
 * move and its freshness would stay at 1970.
 */
export function requireApiConfig(config: Config): ApiConfig {
  const problems: string[] = [];
  if (!config.kafka) problems.push('KAFKA_BROKERS: `tilecast api` produces events to Kafka; set KAFKA_BROKERS (or run `tilecast start`, the embedded all-in-one)');
  if (!config.redisUrl) {
    problems.push(
      'REDIS_URL: `tilecast api` gets window updates and freshness from the workers over Redis; set REDIS_URL to the Redis the workers publish to (same REDIS_CHANNEL_PREFIX), or run `tilecast start` for one process without Kafka',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ApiConfig;
}
