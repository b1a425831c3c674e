/**
 * `tilecast start [--demo]`: the embedded all-in-one (API + aggregator + chdb). `--demo`
 * adds synthetic traffic for tenant "demo" so tiles move, and a read token for it.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../app/app.ts';
import { loadConfig } from '../config/index.ts';
import { requireModel } from '../model/compile.ts';
import { createLogger } from '../observability/logger.ts';
import { startTelemetry } from '../observability/tracing.ts';
import { handleSignals } from './lifecycle.ts';
import { createTrafficGenerator } from './traffic.ts';

export async function runStart(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { demo: { type: 'boolean', default: false } } });
  const config = loadConfig(process.env);
  const plan = await requireModel(config.model.path);
  const telemetry = await startTelemetry({ config: config.observability, logger: createLogger(config.server.logLevel) });
  const app = await createApp({ config, plan, demo: values.demo ? { tenantId: 'demo' } : undefined });
  const { url } = await app.start();
  const demoToken = await app.tokens.mint({ tenantId: 'demo', scope: 'admin', ttlSeconds: 12 * 3600 });
  console.log(`
Tilecast is running (${config.storage.clickhouse.kind} ClickHouse, data in ${config.storage.dataDir})
  Dashboard           ${url}/${values.demo ? '  (demo tenant, read token built in)' : `  (asks for a read token; or open ${url}/#token=<token>)`}
  GraphQL + GraphiQL  ${url}/graphql
  Ingest              POST ${url}/v1/events
  Health / metrics    ${url}/healthz  ${url}/readyz  ${url}/metrics
  Metric model        ${config.model.path} (${plan.name})

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
      void app.intake.submit('demo', batch.map((value) => ({ raw: JSON.stringify(value), item: { value } })));
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
