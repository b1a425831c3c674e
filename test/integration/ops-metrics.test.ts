/**
 * Issue 6, done-when 1: after a run, /metrics has the documented series with the
 * expected values (accepted, duplicate and dead-lettered counts equal what was sent;
 * GraphQL latency by bounded operation name; active subscriptions; lateness; freshness
 * age; ClickHouse latency by queryId). The Grafana dashboard and the alert rules in
 * ops/ reference only series that a running app exposes. Also: request ids and
 * /readyz detail.
 */
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { parse as parseYaml } from 'yaml';
import { boundedOperationNames } from '../../src/observability/graphql-telemetry.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { parseScrape, type Scrape } from '../helpers/prom.ts';
import { waitFor } from '../helpers/wait.ts';

const TENANT = 'opsmetrics';
let t: TestApp;
let token: string;
const trace = (i: number) => (i + 1).toString(16).padStart(32, 'a');

const scrape = async (): Promise<Scrape> => parseScrape(await (await fetch(`${t.url}/metrics`)).text());

beforeAll(async () => {
  t = await startTestApp({ label: 'ops-metrics', env: { FLUSH_INTERVAL_MS: '100', ALLOWED_LATENESS_MS: '1000' } });
  token = await t.token(TENANT);
});
afterAll(async () => {
  await t?.app.stop();
});

describe('/metrics after a run', () => {
  const base = Date.now() - 5 * 60_000;
  const events = Array.from({ length: 30 }, (_, i) => ({
    eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    eventType: i % 3 === 0 ? 'signup' : 'purchase',
    userId: `u${i % 7}`,
    tenantId: TENANT,
    ...(i % 3 === 0 ? {} : { amount: `${i}.25` }),
    currency: 'USD',
    traceId: trace(i),
    // Out of order on purpose: lateness is observed per event.
    timestamp: base + ((i * 7) % 30) * 4_000,
  }));

  it('counts every ingest outcome exactly', async () => {
    const first = await t.post(token, JSON.stringify([...events, { ...events[0], currency: 'usd' }, { ...events[1], currency: 'XXZ' }, { ...events[2], tenantId: 'someone-else' }]));
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ accepted: 30, duplicates: 0 });
    const retry = await t.post(token, JSON.stringify(events.slice(0, 10)));
    // `accepted` counts what was counted now; repeats are `duplicates` (the same as the counters below).
    expect(retry.json).toMatchObject({ accepted: 0, duplicates: 10 });
    const ndjson = await t.post(token, `${JSON.stringify(events[3])}\n{not json\n`, 'application/x-ndjson');
    expect(ndjson.json).toMatchObject({ accepted: 0, duplicates: 1 });

    const m = await scrape();
    expect(m.value('tilecast_ingest_items_total', { outcome: 'accepted' })).toBe(30);
    expect(m.value('tilecast_ingest_items_total', { outcome: 'duplicate' })).toBe(11);
    expect(m.value('tilecast_ingest_items_total', { outcome: 'rejected', reason: 'schema_violation' })).toBe(2);
    expect(m.value('tilecast_ingest_items_total', { outcome: 'rejected', reason: 'tenant_mismatch' })).toBe(1);
    expect(m.value('tilecast_ingest_items_total', { outcome: 'rejected', reason: 'invalid_json' })).toBe(1);
    // Dead letters stored = rejected counted.
    const dl = await t.gql<{ deadLetters: { edges: { node: { reason: string } }[] } }>(token, '{ deadLetters(first: 50) { edges { node { reason } } } }');
    expect(dl.errors).toBeUndefined();
    expect(dl.data!.deadLetters.edges.map((e) => e.node.reason).sort()).toEqual(['invalid_json', 'schema_violation', 'schema_violation', 'tenant_mismatch']);
    // Every fresh event fed to the aggregator was observed once for lateness.
    expect(m.value('tilecast_window_lateness_seconds_count')).toBe(30);
    expect(m.value('tilecast_window_lateness_seconds_bucket', { le: '0' })).toBeLessThan(30);
    // Only the first request logged anything (the others were all duplicates): one append.
    expect(m.value('tilecast_clickhouse_query_duration_seconds_count', { query_id: 'event_log.append' })).toBe(1);
    expect(m.value('tilecast_clickhouse_queries_total', { query_id: 'event_log.append', kind: 'insert', outcome: 'ok' })).toBe(1);
  });

  it('times GraphQL operations by bounded name and counts open subscriptions', async () => {
    const from = new Date(base - 60_000).toISOString();
    const to = new Date(base + 3 * 60_000).toISOString();
    const q = `series(input: { metric: REVENUE, currency: "USD", from: "${from}", to: "${to}", granularity: MINUTE }) { total }`;
    for (let i = 0; i < 2; i++) expect((await t.gql(token, `query OpsSeries { ${q} }`)).errors).toBeUndefined();
    expect((await t.gql(token, `{ ${q} }`)).errors).toBeUndefined();
    const broken = await t.gql(token, `query OpsBroken { series(input: { metric: REVENUE, currency: "USD", from: "${to}", to: "${from}", granularity: MINUTE }) { total } }`);
    expect(broken.errors?.length).toBeGreaterThan(0);

    const client = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
    const off = client.subscribe({ query: 'subscription OpsLive { windows { value } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    await waitFor(async () => (await scrape()).value('tilecast_active_subscriptions') === 1, { what: 'one active subscription' });

    const m = await scrape();
    const count = (name: string, outcome = 'ok') => m.value('tilecast_graphql_operation_duration_seconds_count', { operation_type: 'query', operation_name: name, outcome });
    expect(count('OpsSeries')).toBe(2);
    expect(count('anonymous')).toBe(2); // this one and the deadLetters query above
    expect(count('OpsBroken', 'error')).toBe(1);
    expect(m.value('tilecast_graphql_operation_duration_seconds_count', { operation_name: 'OpsLive' })).toBeUndefined(); // subscriptions are not latencies

    off();
    await client.dispose();
    await waitFor(async () => (await scrape()).value('tilecast_active_subscriptions') === 0, { what: 'subscription closed' });
  });

  it('reports freshness age and window writes once the aggregator flushed', async () => {
    await t.app.aggregator.flush();
    const m = await waitFor(async () => {
      const s = await scrape();
      return (s.value('tilecast_window_updates_total') ?? 0) > 0 ? s : null;
    });
    const age = m.value('tilecast_freshness_age_seconds')!;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(10);
    expect(m.value('tilecast_flush_duration_seconds_count')).toBeGreaterThan(0);
    expect(m.value('tilecast_flush_errors_total')).toBe(0);
  });

  it('bounds operation names: anonymous, then at most N names, then other', () => {
    const label = boundedOperationNames(3);
    expect([undefined, 'A', 'B', 'A', 'C', 'D', 'x'.repeat(65), 'B'].map(label)).toEqual(['anonymous', 'A', 'B', 'A', 'C', 'other', 'other', 'B']);
  });
});

describe('ops/ files', () => {
  /** tilecast_* series referenced by PromQL expressions. */
  const seriesIn = (exprs: string[]) => [...new Set(exprs.flatMap((e) => e.match(/\btilecast_[a-z0-9_]+/g) ?? []))];

  it('alert rules are well-formed and reference only exposed series', async () => {
    const doc = parseYaml(readFileSync('ops/prometheus/alerts.yml', 'utf8')) as { groups: { name: string; rules: Record<string, unknown>[] }[] };
    const rules = doc.groups.flatMap((g) => g.rules);
    const names = rules.map((r) => r.alert);
    for (const wanted of ['TilecastDataStale', 'TilecastConsumerLagHigh', 'TilecastFlushErrors', 'TilecastDeadLetterRateHigh', 'TilecastKafkaDeadLetterRateHigh']) expect(names).toContain(wanted);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(typeof r.expr, String(r.alert)).toBe('string');
      expect(r.for, String(r.alert)).toMatch(/^\d+[smh]$/);
      expect((r.labels as { severity?: string }).severity, String(r.alert)).toMatch(/^(page|ticket)$/);
      expect((r.annotations as { summary?: string }).summary, String(r.alert)).toBeTruthy();
    }
    const m = await scrape();
    const series = seriesIn(rules.map((r) => r.expr as string));
    expect(series.length).toBeGreaterThan(5);
    expect(series.filter((s) => !m.has(s))).toEqual([]);
  });

  it('the Grafana dashboard is well-formed and references only exposed series', async () => {
    const dash = JSON.parse(readFileSync('ops/grafana/tilecast.json', 'utf8')) as {
      title: string;
      uid: string;
      panels: { id: number; type: string; title: string; targets?: { expr: string; refId: string }[] }[];
      templating: { list: { name: string }[] };
    };
    expect(dash.uid).toBe('tilecast-ops');
    expect(dash.templating.list.map((v) => v.name)).toContain('datasource');
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const targets = dash.panels.flatMap((p) => p.targets ?? []);
    const m = await scrape();
    const series = seriesIn(targets.map((x) => x.expr));
    for (const wanted of [
      'tilecast_graphql_operation_duration_seconds_bucket',
      'tilecast_active_subscriptions',
      'tilecast_clickhouse_query_duration_seconds_bucket',
      'tilecast_ingest_items_total',
      'tilecast_kafka_consumer_lag',
      'tilecast_window_lateness_seconds_bucket',
      'tilecast_freshness_age_seconds',
    ]) {
      expect(series).toContain(wanted);
    }
    expect(series.filter((s) => !m.has(s))).toEqual([]);
  });
});

describe('request ids and readiness', () => {
  it('echoes a sane x-request-id and makes one up otherwise', async () => {
    const mine = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'ops-req-1' } });
    expect(mine.headers.get('x-request-id')).toBe('ops-req-1');
    const made = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const gql = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': 'ops-req-2' }, body: '{"query":"{ __typename }"}' });
    expect(gql.headers.get('x-request-id')).toBe('ops-req-2');
  });

  it('/readyz details each configured dependency', async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(['aggregator', 'clickhouse', 'migrations']); // no REDIS_URL, no Kafka here
    expect(body.checks.clickhouse).toEqual({ ok: true, detail: 'embedded' });
    expect(body.checks.migrations).toEqual({ ok: true, detail: 'applied' });
  });
});
