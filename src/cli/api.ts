/** `tilecast api`: GraphQL over HTTP + websocket, and `POST /v1/events` producing to Kafka. */
import { createApiApp } from '../app/api.ts';
import { loadConfig, requireApiConfig } from '../config/index.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { startTelemetry } from '../observability/tracing.ts';
import { handleSignals } from './lifecycle.ts';

export async function runApi(): Promise<void> {
  const config = requireApiConfig(loadConfig(process.env));
  const plan = await requireModel(config.model.path);
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel) });
  const app = await createApiApp({ config, plan });
  const { url } = await app.start();
  console.log(`Tilecast API (events → Kafka topic ${config.kafka.topic}, ${config.storage.clickhouse.kind} ClickHouse)
  GraphQL + GraphiQL  ${url}/graphql
  Ingest              POST ${url}/v1/events
  Health / metrics    ${url}/healthz  ${url}/readyz  ${url}/metrics
  Metric model        ${config.model.path} (${plan.name})`);
  handleSignals({ logger: app.logger, stop: () => app.stop(), timeoutMs: config.server.shutdownTimeoutMs, telemetry });
}
