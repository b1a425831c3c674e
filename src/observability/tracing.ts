/**
 * OpenTelemetry tracing. Code everywhere uses only `@opentelemetry/api` (through
 * `withSpan`): with no SDK registered every span is a no-op costing a few
 * allocations, so instrumentation is always on and exporting is a deployment choice.
 *
 * `startTelemetry` (called once by the CLI for long-running commands) registers the
 * Node SDK — AsyncLocalStorage context, W3C trace-context propagation, a batch span
 * processor with the OTLP/HTTP exporter, and a meter provider exporting OTLP metrics
 * (the business metrics of src/observability/business-metrics.ts) — only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. The SDK packages are imported lazily so a
 * deployment without a collector never loads them.
 */
import { context, metrics, propagation, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { Config } from '../config/index.ts';
import type { Logger } from './logger.ts';

export { SpanKind };
export type { Span };

const TRACER = 'tilecast';

/**
 * Runs `fn` inside an active span named `name`: nested spans (ClickHouse calls made by
 * `fn`) become its children. A thrown error is recorded on the span, marks it as an
 * error and is rethrown unchanged; the span always ends.
 */
export async function withSpan<T>(
  name: string,
  o: { attributes?: Attributes; kind?: SpanKind; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER);
  return tracer.startActiveSpan(name, { kind: o.kind ?? SpanKind.INTERNAL, attributes: o.attributes }, o.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The context carried by incoming W3C `traceparent`/`tracestate` headers (root when absent or no propagator). */
export function extractContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(context.active(), headers, {
    get: (carrier, key) => carrier[key],
    keys: (carrier) => Object.keys(carrier),
  });
}

/** The active span's trace id, for log lines ('' when not sampled / no SDK). */
export function activeTraceId(): string {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && sc.traceFlags & 1 ? sc.traceId : '';
}

export interface Telemetry {
  /** Whether spans and metrics are exported (an OTLP endpoint was configured). */
  readonly exporting: boolean;
  /** Flushes buffered spans and metrics; call before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK when an OTLP endpoint is configured; otherwise the
 * API stays a no-op. Call once per process (the SDK registers process-wide globals).
 */
export async function startTelemetry(o: { config: Config['observability']; logger: Logger; serviceName?: string }): Promise<Telemetry> {
  const endpoint = o.config.otlpEndpoint;
  if (!endpoint) return { exporting: false, shutdown: async () => undefined };
  const base = endpoint.replace(/\/+$/, '');
  const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { MeterProvider, PeriodicExportingMetricReader }, { OTLPMetricExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/exporter-metrics-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const resource = resourceFromAttributes({ 'service.name': o.serviceName ?? o.config.serviceName });
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
  });
  // AsyncLocalStorage context manager + W3C trace-context and baggage propagators.
  tracerProvider.register();
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 15_000 })],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  o.logger.info({ endpoint: base }, 'exporting OpenTelemetry traces and metrics over OTLP/HTTP');
  return {
    exporting: true,
    async shutdown() {
      const results = await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      for (const r of results) if (r.status === 'rejected') o.logger.warn({ err: String(r.reason) }, 'telemetry flush failed');
    },
  };
}
