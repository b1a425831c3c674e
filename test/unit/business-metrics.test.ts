/** The producer's OTel business metrics: what each event type records, with bounded attributes. */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createBusinessMetrics } from '../../src/observability/business-metrics.ts';

describe('business metrics', () => {
  it('adds purchase amounts to business.revenue.total and signups − churns to business.users.active, by tenant (never by trace id)', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const m = createBusinessMetrics(provider.getMeter('test'));
    m.record([
      { eventType: 'purchase', tenantId: 'acme', currency: 'USD', amount: '10.10' },
      { eventType: 'purchase', tenantId: 'acme', currency: 'USD', amount: '0.20' },
      { eventType: 'purchase', tenantId: 'acme', currency: 'EUR', amount: '5' },
      { eventType: 'signup', tenantId: 'acme', currency: 'USD' },
      { eventType: 'signup', tenantId: 'acme', currency: 'USD' },
      { eventType: 'churn', tenantId: 'acme', currency: 'USD' },
      { eventType: 'upgrade', tenantId: 'acme', currency: 'USD' },
    ]);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const revenue = metrics.find((x) => x.descriptor.name === 'business.revenue.total')!;
    const byCurrency = Object.fromEntries(revenue.dataPoints.map((p) => [String(p.attributes.currency), p.value as number]));
    // Floats: telemetry, not the ledger (10.1 + 0.2 is not exactly 10.3 in binary).
    expect(byCurrency.USD).toBeCloseTo(10.3, 9);
    expect(byCurrency.EUR).toBe(5);
    const users = metrics.find((x) => x.descriptor.name === 'business.users.active')!;
    expect(users.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ 'tenant.id': 'acme' }, 1]]);
    for (const p of [...revenue.dataPoints, ...users.dataPoints]) expect(Object.keys(p.attributes)).not.toContain('trace.id');
    await provider.shutdown();
  });
});
