/**
 * Issue 6, done-when 2: events carrying trace ids are found as samples on the windows
 * they fed, through GraphQL (Point.traceIds of a query, WindowUpdate.traceIds of a
 * subscription). And the spans Tilecast makes: an ingest request continues the caller's
 * W3C trace (traceparent) down to its ClickHouse calls, flushes and GraphQL operations
 * are traced too (an in-memory exporter stands in for OTLP).
 */
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TRACE_SAMPLE_SIZE } from '../../src/aggregate/window-engine.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

const exporter = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();

const TENANT = 'opstraces';
let t: TestApp;
let token: string;
let clock = Date.now();
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const traceOf = (minute: number, i: number) => `${hex(minute + 1, 8)}${hex(i + 1, 8)}`.padEnd(32, 'c');

beforeAll(async () => {
  t = await startTestApp({ label: 'ops-traces', clock: () => clock, env: { FLUSH_INTERVAL_MS: '60000', ALLOWED_LATENESS_MS: '5000' } });
  token = await t.token(TENANT);
});
afterAll(async () => {
  await t?.app.stop();
});

const spanNamed = (name: string, where: (s: ReadableSpan) => boolean = () => true) => exporter.getFinishedSpans().filter((s) => s.name === name && where(s));
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('trace ids on windows', () => {
  // Three minutes: 3, 5 (= the sample size) and 9 events with distinct trace ids.
  const start = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
  const sizes = [3, TRACE_SAMPLE_SIZE, 9];
  const events = sizes.flatMap((n, minute) =>
    Array.from({ length: n }, (_, i) => ({
      eventType: 'purchase',
      userId: `u${i}`,
      tenantId: TENANT,
      amount: '1.50',
      currency: 'EUR',
      traceId: traceOf(minute, i),
      timestamp: start + minute * 60_000 + i * 1_000,
    })),
  );
  const tracesOfMinute = (minute: number) => events.filter((e) => e.timestamp >= start + minute * 60_000 && e.timestamp < start + (minute + 1) * 60_000).map((e) => e.traceId);

  it('Point.traceIds holds the trace ids of the events of its window (a sample of at most 5)', async () => {
    const live: { windowStart: string; traceIds: string[]; revision: number }[] = [];
    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
    let connected = false;
    client.on('connected', () => (connected = true));
    const off = client.subscribe<{ windows: (typeof live)[number] }>(
      { query: 'subscription { windows(metrics: [PURCHASES], currency: "EUR") { windowStart traceIds revision } }' },
      { next: (m) => void (m.data && live.push(m.data.windows)), error: () => undefined, complete: () => undefined },
    );
    await waitFor(() => connected, { what: 'websocket connected' });

    const producerSpanId = 'b7ad6b7169203331';
    const res = await fetch(`${t.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: `00-${events[0]!.traceId}-${producerSpanId}-01` },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(202);
    clock = Date.now();
    await t.app.aggregator.flush();

    const from = new Date(start).toISOString();
    const to = new Date(start + sizes.length * 60_000).toISOString();
    const q = await t.gql<{ s: { points: { start: string; traceIds: string[]; value: string }[] } }>(
      token,
      `query TraceSamples { s: series(input: { metric: PURCHASES, currency: "EUR", from: "${from}", to: "${to}", granularity: MINUTE }) { points { start value traceIds } } }`,
    );
    expect(q.errors).toBeUndefined();
    const points = q.data!.s.points;
    expect(points.map((p) => p.value)).toEqual(sizes.map(String));
    points.forEach((p, minute) => {
      const fed = tracesOfMinute(minute);
      expect(p.traceIds.length, p.start).toBe(Math.min(fed.length, TRACE_SAMPLE_SIZE));
      expect(new Set(p.traceIds).size).toBe(p.traceIds.length);
      for (const id of p.traceIds) expect(fed, `${p.start}: ${id} fed this window`).toContain(id);
    });
    // Windows that fit the sample carry every trace id that fed them.
    expect([...points[0]!.traceIds].sort()).toEqual([...tracesOfMinute(0)].sort());
    expect([...points[1]!.traceIds].sort()).toEqual([...tracesOfMinute(1)].sort());

    // The same samples arrive live on WindowUpdate.traceIds.
    await waitFor(() => new Set(live.map((u) => u.windowStart)).size === sizes.length, { what: 'a live update per window' });
    for (const [minute, p] of points.entries()) {
      const last = live.filter((u) => Date.parse(u.windowStart) === start + minute * 60_000).at(-1)!;
      expect([...last.traceIds].sort(), p.start).toEqual([...p.traceIds].sort());
    }
    off();
    await client.dispose();

    // The ingest request continued the producer's trace, down to the event-log append.
    const post = spanNamed('POST /v1/events', (s) => s.spanContext().traceId === events[0]!.traceId);
    expect(post).toHaveLength(1);
    expect(parentOf(post[0]!)).toBe(producerSpanId);
    const batch = spanNamed('ingest.batch', (s) => parentOf(s) === post[0]!.spanContext().spanId);
    expect(batch).toHaveLength(1);
    expect(batch[0]!.attributes).toMatchObject({ 'tilecast.tenant': TENANT, 'tilecast.items': events.length, 'tilecast.accepted': events.length });
    const calls = exporter.getFinishedSpans().filter((s) => parentOf(s) === batch[0]!.spanContext().spanId).map((s) => s.name);
    expect(calls).toContain('event_log.append');
    expect(calls).toContain('event_log.arrivals_since'); // the dedupe step's first look at the tenant's recent keys
    const append = spanNamed('event_log.append')[0]!;
    expect(append.attributes['db.system.name']).toBe('clickhouse');
    expect(String(append.attributes['db.query.id'])).toMatch(/^tilecast-insert-event_log\.append-[0-9a-f-]{36}$/);

    // The flush wrote the windows inside its span.
    const flush = spanNamed('aggregate.flush', (s) => (s.attributes['tilecast.window_updates'] as number) >= sizes.length);
    expect(flush.length).toBeGreaterThan(0);
    expect(exporter.getFinishedSpans().some((s) => s.name === 'windows.write' && parentOf(s) === flush[0]!.spanContext().spanId)).toBe(true);

    // The GraphQL operation is a span with its read nested under it.
    const op = spanNamed('graphql.query TraceSamples');
    expect(op).toHaveLength(1);
    const http = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === parentOf(op[0]!));
    expect(http?.name).toBe('POST /graphql');
    const reads = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === op[0]!.spanContext().traceId && s.attributes['db.system.name'] === 'clickhouse');
    expect(reads.length).toBeGreaterThan(0);
  });
});
