/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, the Node SDK (trace + metrics, OTLP/HTTP) loads
 * and exports on this Node version: spans made through the API and the producer's
 * business metrics reach a collector (a local HTTP server standing in for one).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { createBusinessMetrics } from '../../src/observability/business-metrics.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startTelemetry, withSpan } from '../../src/observability/tracing.ts';

const received: { path: string; body: string }[] = [];
const collector = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

describe('OTLP export', () => {
  it('sends spans and business metrics to the configured collector', async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', () => resolve()));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'tilecast-otlp-test' });
    expect(config.observability).toEqual({ otlpEndpoint: endpoint, serviceName: 'tilecast-otlp-test' });
    const telemetry = await startTelemetry({ config: config.observability, logger: createLogger('silent') });
    expect(telemetry.exporting).toBe(true);

    await withSpan('ingest.batch', { attributes: { 'tilecast.tenant': 'acme' } }, async () => {
      await withSpan('event_log.append', {}, async () => undefined);
      createBusinessMetrics().record([{ eventType: 'purchase', tenantId: 'acme', currency: 'USD', amount: '12.5' }]);
    });
    await expect(withSpan('windows.write', {}, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await telemetry.shutdown();

    const traces = received.filter((r) => r.path === '/v1/traces').map((r) => r.body).join('\n');
    for (const name of ['ingest.batch', 'event_log.append', 'windows.write', 'tilecast-otlp-test', 'boom']) expect(traces).toContain(name);
    const metrics = received.filter((r) => r.path === '/v1/metrics').map((r) => r.body).join('\n');
    expect(metrics).toContain('business.revenue.total');
  });

  it('exports nothing without an endpoint', async () => {
    const telemetry = await startTelemetry({ config: loadConfig({}).observability, logger: createLogger('silent') });
    expect(telemetry.exporting).toBe(false);
    await telemetry.shutdown();
  });
});
