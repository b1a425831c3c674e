/**
 * Live `windows` subscriptions for models/saas.yaml, embedded: a seeded stream of every
 * event type (more countries than the budget, events without a country, duplicates,
 * out-of-order and invalid items) POSTed to /v1/events while graphql-ws subscribers listen,
 * then the newest value each subscriber holds per (metric, minute, slice) is compared with
 * an independent brute-force computation from the accepted events (test/helpers/saas-truth.ts):
 * metrics kept by currency (per currency window), metrics without currency (the minute,
 * every currency merged), formulas of both kinds, a `where` filter with a `version`, and a
 * resume with `since` (from metric_windows). TILECAST_TEST_SEED replays.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { expectSeries, saasStream, truthOf, type Filter, type SaasItem, type Truth } from '../helpers/saas-truth.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadPlan } from '../helpers/model.ts';

const LATENESS = 10_000;
const MIN = 60_000;
const START = Date.UTC(2026, 10, 3, 10);
const SPAN = 20 * MIN;
const TENANTS = ['acme', 'globex'];
const SEED = testSeed();
const { items, accepted } = saasStream({ seed: SEED, tenants: TENANTS, count: 900, start: START, spanMs: SPAN, latenessMs: LATENESS });
const truth: Truth = truthOf(accepted);
const plan = loadPlan('models/saas.yaml');

let now = START;
let t: TestApp;
let ws: Client;
let other: Client;
const tokens: Record<string, string> = {};

interface Msg {
  metric: string;
  version: number;
  currency: string;
  windowStart: string;
  value: string;
  revision: number;
  final: boolean;
  replayed: boolean;
  dimensions: { name: string; value: string | null; other: boolean }[];
}
const FIELDS = 'metric version currency windowStart value revision final replayed dimensions { name value other }';

/** A subscription on the shared connection, recording every message. */
function listen(query: string): { messages: Msg[]; errors: unknown[] } {
  const out = { messages: [] as Msg[], errors: [] as unknown[] };
  ws.subscribe({ query }, { next: (m) => (m.errors ? out.errors.push(m.errors) : out.messages.push((m.data as { windows: Msg }).windows)), error: (e) => out.errors.push(e), complete: () => undefined });
  return out;
}

const stored = (d: Msg['dimensions'][number]) => (d.other ? '__other__' : (d.value ?? ''));
const keyOf = (metric: string, minute: number, dims: readonly string[]) => `${metric}|${minute}|${dims.join('/')}`;

/** Newest value per (metric, minute, slice), by revision. */
function latest(messages: readonly Msg[]): Map<string, Msg> {
  const out = new Map<string, Msg>();
  for (const m of messages) {
    const key = keyOf(m.metric.toLowerCase(), Date.parse(m.windowStart), m.dimensions.map(stored));
    if ((out.get(key)?.revision ?? 0) < m.revision) out.set(key, m);
  }
  return out;
}

const minuteShape = { from: START - MIN, to: START + SPAN + 2 * MIN, bucketOf: (x: number) => Math.floor(x / MIN) * MIN };
const leavesOf = (name: string): string[] => {
  const v = plan.metric(name)!;
  if (v.kind !== 'formula') return [name];
  const out: string[] = [];
  const walk = (n: typeof v.pinned): void => {
    if (n.type === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.type === 'metric') out.push(...leavesOf(n.name));
  };
  walk(v.pinned);
  return out;
};

/**
 * What a subscriber of `metrics` (with `where`) of `tenant` should end with: every
 * (minute, slice) a leaf has rows in, valued by the brute force; formula slices that
 * divide by zero are absent.
 */
function expected(tenant: string, metrics: readonly string[], where: readonly Filter[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (const metric of metrics) {
    const by = plan.metric(metric)!.by;
    const slices = new Map<string, { minute: number; dims: string[] }>();
    for (const leaf of leavesOf(metric)) {
      for (const r of truth.rows.get(leaf)!) {
        if (r.tenant !== tenant) continue;
        const dims = by.map((d) => r.dims[d]!);
        const minute = minuteShape.bucketOf(r.t);
        slices.set(keyOf(metric, minute, dims), { minute, dims });
      }
    }
    for (const [key, { minute, dims }] of slices) {
      const filters: Filter[] = [...by.map((d, i) => ({ dimension: d, in: [dims[i]!] })), ...where];
      if (!where.every((f) => !by.includes(f.dimension) || ((!f.in || f.in.includes(dims[by.indexOf(f.dimension)]!)) && (!f.notIn || !f.notIn.includes(dims[by.indexOf(f.dimension)]!))))) continue;
      const value = expectSeries(truth, metric, tenant, minuteShape, filters).at(minute);
      if (value !== null) out.set(key, value);
    }
  }
  return out;
}

/** Differences between what a subscriber holds and what it should: missing, extra and wrong values. */
function diff(got: Map<string, Msg>, want: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [key, value] of want) if (got.get(key)?.value !== value) out.push(`${key}: got ${got.get(key)?.value ?? 'nothing'}, want ${value}`);
  for (const key of got.keys()) if (!want.has(key)) out.push(`${key}: got ${got.get(key)!.value}, want nothing`);
  return out;
}

async function post(batch: SaasItem[]) {
  const byTenant = new Map<string, SaasItem[]>();
  for (const item of batch) byTenant.set(item.postAs, [...(byTenant.get(item.postAs) ?? []), item]);
  for (const [tenant, group] of byTenant) expect((await t.post(tokens[tenant]!, JSON.stringify(group.map((i) => i.body)))).status).toBe(202);
}

const PER_CURRENCY = ['new_subscriptions', 'gross_revenue', 'paying_users', 'net_revenue', 'arppu'];
const CROSS = ['trials', 'churns', 'trial_conversions', 'trial_to_paid'];
const up = (names: readonly string[]) => names.map((n) => n.toUpperCase()).join(', ');
let perCurrency: ReturnType<typeof listen>;
let cross: ReturnType<typeof listen>;
let filtered: ReturnType<typeof listen>;
let globex: ReturnType<typeof listen>;
let writesFrom = 0;

beforeAll(async () => {
  t = await startTestApp({ clock: () => now, label: 'subs-model', env: { TILECAST_MODEL: 'models/saas.yaml', ALLOWED_LATENESS_MS: String(LATENESS), FLUSH_INTERVAL_MS: '3600000' } });
  for (const tenant of TENANTS) tokens[tenant] = await t.token(tenant, 'admin');
  ws = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${tokens.acme}` }, retryAttempts: 0 });
  perCurrency = listen(`subscription { windows(metrics: [${up(PER_CURRENCY)}]) { ${FIELDS} } }`);
  cross = listen(`subscription { windows(metrics: [${up(CROSS)}]) { ${FIELDS} } }`);
  filtered = listen(`subscription { windows(metrics: [GROSS_REVENUE, TRIALS, TRIAL_TO_PAID], version: 1, where: [{ dimension: PLAN, in: ["pro"] }]) { ${FIELDS} } }`);
  // Subscriptions are registered once the connection is acknowledged and a round trip has passed.
  await waitFor(async () => (await t.gql(tokens.acme!, '{ __typename }')).data !== undefined);
  await waitFor(async () => (await t.app.metrics.activeSubscriptions.get()).values[0]?.value === 3, { what: 'three subscriptions open' });
  other = createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${tokens.globex}` }, retryAttempts: 0 });
  globex = { messages: [], errors: [] };
  other.subscribe({ query: `subscription { windows(metrics: [TRIALS, GROSS_REVENUE]) { ${FIELDS} } }` }, { next: (m) => globex.messages.push((m.data as { windows: Msg }).windows), error: (e) => globex.errors.push(e), complete: () => undefined });
  await waitFor(async () => (await t.app.metrics.activeSubscriptions.get()).values[0]?.value === 4, { what: 'globex subscribed' });

  writesFrom = Date.now(); // ClickHouse's clock stamps written_at: where a resume from the start begins
  await withSeed(SEED, async () => {
    for (let i = 0; i < items.length; i += 40) {
      const batch = items.slice(i, i + 40);
      now = Math.max(now, ...batch.map((b) => b.arrival));
      await post(batch);
      await t.app.aggregator.flush();
    }
    now = START + SPAN + 10 * MIN; // every window final
    await t.app.aggregator.flush();
    await t.app.aggregator.flush();
  });
}, 300_000);

afterAll(async () => {
  await ws?.dispose();
  await other?.dispose();
  await t?.app.stop();
});

describe('windows subscriptions for a model', { timeout: 120_000 }, () => {
  it('metrics kept by currency: per currency window and slice, formulas exact, every window final', async () => {
    const want = expected('acme', PER_CURRENCY);
    expect(want.size).toBeGreaterThan(100);
    const settled = () => diff(latest(perCurrency.messages), want).length === 0 && [...latest(perCurrency.messages).values()].every((m) => m.final);
    await waitFor(settled, { timeoutMs: 20_000, what: 'per-currency values, final' }).catch(() => undefined);
    expect(diff(latest(perCurrency.messages), want).slice(0, 20)).toEqual([]);
    expect([...latest(perCurrency.messages).values()].every((m) => m.final && m.currency === m.dimensions[0]!.value && m.version === 1 && !m.replayed)).toBe(true);
    expect(perCurrency.errors).toEqual([]);
  });

  it('metrics without currency: one value per minute and slice, every currency merged', async () => {
    const want = expected('acme', CROSS);
    expect(want.size).toBeGreaterThan(50);
    const settled = () => diff(latest(cross.messages), want).length === 0 && [...latest(cross.messages).values()].every((m) => m.final);
    await waitFor(settled, { timeoutMs: 20_000, what: 'merged values, final' }).catch(() => undefined);
    expect(diff(latest(cross.messages), want).slice(0, 20)).toEqual([]);
    expect([...latest(cross.messages).values()].every((m) => m.currency === '' && m.final)).toBe(true);
  });

  it('a `where` filter and a version: only the slices that pass; the other tenant sees only its own', async () => {
    const want = expected('acme', ['gross_revenue', 'trials', 'trial_to_paid'], [{ dimension: 'plan', in: ['pro'] }]);
    await waitFor(() => diff(latest(filtered.messages), want).length === 0, { timeoutMs: 20_000, what: 'filtered values' }).catch(() => undefined);
    expect(diff(latest(filtered.messages), want)).toEqual([]);
    expect(filtered.messages.every((m) => m.dimensions.find((d) => d.name === 'plan')!.value === 'pro')).toBe(true);
    const wantGlobex = expected('globex', ['trials', 'gross_revenue']);
    await waitFor(() => diff(latest(globex.messages), wantGlobex).length === 0, { timeoutMs: 20_000, what: 'globex values' }).catch(() => undefined);
    expect(diff(latest(globex.messages), wantGlobex)).toEqual([]);
  });

  it('a resume with `since` replays every window from storage at its current revision', async () => {
    const resumed = listen(`subscription { windows(metrics: [TRIALS, REFUNDS, NET_REVENUE], since: "${new Date(writesFrom - 60_000).toISOString()}") { ${FIELDS} } }`);
    const want = expected('acme', ['trials', 'refunds', 'net_revenue']);
    await waitFor(() => diff(latest(resumed.messages), want).length === 0, { timeoutMs: 20_000, what: 'replayed values' }).catch(() => undefined);
    expect(diff(latest(resumed.messages), want)).toEqual([]);
    expect(resumed.messages.every((m) => m.replayed && m.final)).toBe(true);
    // The replayed revisions are the ones the live subscribers ended with.
    const live = latest(cross.messages);
    for (const [key, m] of latest(resumed.messages)) if (live.has(key)) expect(m.revision, key).toBe(live.get(key)!.revision);
  });

  it('refuses what cannot be live with a reason', async () => {
    const bad = listen('subscription { windows(metrics: [TRIALS], currency: "USD") { value } }');
    const badVersion = listen('subscription { windows(metrics: [TRIALS], version: 2) { value } }');
    await waitFor(() => bad.errors.length > 0 && badVersion.errors.length > 0);
    expect(JSON.stringify(bad.errors)).toContain('trials v1 cannot be filtered by currency: it is stored by plan, country');
    expect(JSON.stringify(badVersion.errors)).toContain('metric trials has no version 2 (versions: 1)');
  });
});
