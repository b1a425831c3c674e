/**
 * The `tilecast` command line: start | api | worker | simulate | migrate | token.
 * `npm start` runs `start`.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../app/app.ts';
import { createApiApp } from '../app/api.ts';
import { createWorkerApp } from '../app/worker.ts';
import { SCOPES, createTokenService, parseTtl, resolveSecret, type Scope } from '../auth/tokens.ts';
import { ConfigError, loadConfig, requireApiConfig } from '../config/index.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { startTelemetry, type Telemetry } from '../observability/tracing.ts';
import { applyRetention } from '../storage/retention.ts';
import { createClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrations.ts';
import { handleSignals } from './lifecycle.ts';
import { modelCommands } from './model.ts';
import { runReplay } from './replay.ts';
import { runSimulate } from './simulate.ts';
import { createTrafficGenerator } from './traffic.ts';

const USAGE = `Usage: tilecast <command> [options]

Commands:
  start [--demo]                       embedded all-in-one: API + aggregator + ClickHouse (chdb)
  api                                  GraphQL + HTTP API; POST /v1/events produces to Kafka
                                       (needs KAFKA_BROKERS, and REDIS_URL for the workers' updates)
  worker                               Kafka consumer-group member: validate, dedupe, aggregate, write
                                       windows (needs KAFKA_BROKERS; CLICKHOUSE_URL to share storage)
  simulate --rate N --duration S --tenants T [--target http|kafka] [--url U]
                                       load generator with a progress bar
  migrate                              apply migrations/ in order (idempotent) and the retention TTLs
  replay --tenant T --from ISO --to ISO [--chunk-size N]
                                       rebuild a tenant's windows in a range from the event log
                                       (idempotent; embedded: stop \`tilecast start\` first)
  token --tenant T [--scope read|ingest|admin] [--ttl 1h]
                                       mint a signed token with the configured secret
  model check [FILE]                   validate a metric model (default TILECAST_MODEL): errors with line, path, reason
  schema events [--model FILE]         JSON Schema (draft-07) of the model's events
`;

async function start(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: { demo: { type: 'boolean', default: false } } });
  const config = loadConfig(process.env);
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel) });
  const app = await createApp({ config, demo: values.demo ? { tenantId: 'demo' } : undefined });
  const { url } = await app.start();
  const demoToken = await app.tokens.mint({ tenantId: 'demo', scope: 'admin', ttlSeconds: 12 * 3600 });
  console.log(`
Tilecast is running (${config.storage.clickhouse.kind} ClickHouse, data in ${config.storage.dataDir})
  Dashboard           ${url}/${values.demo ? '  (demo tenant, read token built in)' : `  (asks for a read token; or open ${url}/#token=<token>)`}
  GraphQL + GraphiQL  ${url}/graphql
  Ingest              POST ${url}/v1/events
  Health / metrics    ${url}/healthz  ${url}/readyz  ${url}/metrics

Get a token:  npm run tilecast -- token --tenant acme --scope admin
Demo tenant token (admin, 12h):
  ${demoToken}
In GraphiQL, add the header {"Authorization": "Bearer <token>"}.
`);
  let demo: NodeJS.Timeout | null = null;
  if (values.demo) {
    const traffic = createTrafficGenerator({ tenants: ['demo'], seed: Date.now() });
    demo = setInterval(() => {
      const batch = Array.from({ length: 20 }, () => traffic.next(Date.now()));
      void app.intake.submit('demo', batch.map((value) => ({ raw: JSON.stringify(value), value })));
    }, 1000);
    console.log('Demo traffic: 20 events/s for tenant "demo".');
  }
  handleSignals({
    logger: app.logger,
    timeoutMs: config.server.shutdownTimeoutMs,
    telemetry,
    stop: async () => {
      if (demo) clearInterval(demo);
      await app.stop();
    },
  });
}

/** Stops `stop` on SIGINT/SIGTERM once (bounded by SHUTDOWN_TIMEOUT_MS), flushes telemetry, then exits (src/cli/lifecycle.ts). */
function onSignals(logger: Logger, stop: () => Promise<void>, o: { timeoutMs: number; telemetry?: Telemetry }) {
  handleSignals({ logger, stop, ...o });
}

async function api() {
  const config = requireApiConfig(loadConfig(process.env));
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel) });
  const app = await createApiApp({ config });
  const { url } = await app.start();
  console.log(`Tilecast API (events → Kafka topic ${config.kafka.topic}, ${config.storage.clickhouse.kind} ClickHouse)
  GraphQL + GraphiQL  ${url}/graphql
  Ingest              POST ${url}/v1/events
  Health / metrics    ${url}/healthz  ${url}/readyz  ${url}/metrics`);
  onSignals(app.logger, () => app.stop(), { timeoutMs: config.server.shutdownTimeoutMs, telemetry });
}

async function worker() {
  const config = loadConfig(process.env);
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel), serviceName: `${config.observability.serviceName}-worker` });
  const app = await createWorkerApp({ config });
  const { url } = await app.start();
  const k = config.kafka!;
  console.log(`Tilecast worker: group ${k.groupId}, topic ${k.topic} (dead letters: ${k.dlqTopic}), ${config.storage.clickhouse.kind} ClickHouse
  Metrics / health   ${url}/metrics  ${url}/healthz  ${url}/readyz`);
  onSignals(app.logger, () => app.stop(), { timeoutMs: config.server.shutdownTimeoutMs, telemetry });
}

async function runMigrate() {
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

async function token(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, scope: { type: 'string', default: 'read' }, ttl: { type: 'string', default: '1h' } },
  });
  if (!values.tenant) throw new Error('--tenant is required');
  if (!SCOPES.includes(values.scope as Scope)) throw new Error(`--scope must be one of ${SCOPES.join(', ')}`);
  const config = loadConfig(process.env);
  const tokens = createTokenService(resolveSecret(config.auth.secret, config.storage.dataDir));
  console.log(await tokens.mint({ tenantId: values.tenant, scope: values.scope as Scope, ttlSeconds: parseTtl(values.ttl) }));
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<void>> = { start, api, worker, simulate: runSimulate, migrate: runMigrate, token, replay: runReplay, ...modelCommands };
const run = command ? commands[command] : undefined;
if (!run) {
  console.error(USAGE);
  process.exit(command ? 2 : 0);
}
run(rest).catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `tilecast ${command}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
