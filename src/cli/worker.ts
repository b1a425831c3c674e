/** `tilecast worker`: a Kafka consumer-group member that aggregates, writes windows and publishes updates. */
import { createWorkerApp } from '../app/worker.ts';
import { loadConfig } from '../config/index.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { startTelemetry } from '../observability/tracing.ts';
import { handleSignals } from './lifecycle.ts';

export async function runWorker(): Promise<void> {
  const config = loadConfig(process.env);
  const plan = await requireModel(config.model.path);
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel), serviceName: `${config.observability.serviceName}-worker` });
  const app = await createWorkerApp({ config, plan });
  const { url } = await app.start();
  const k = config.kafka!;
  console.log(`Tilecast worker: group ${k.groupId}, topic ${k.topic} (dead letters: ${k.dlqTopic}), ${config.storage.clickhouse.kind} ClickHouse
  Metrics / health   ${url}/metrics  ${url}/healthz  ${url}/readyz
  Metric model       ${config.model.path} (${plan.name})`);
  handleSignals({ logger: app.logger, stop: () => app.stop(), timeoutMs: config.server.shutdownTimeoutMs, telemetry });
}
