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
import { diff, expected, FIELDS, latest, type Msg } from '../helpers/saas-live.ts';
import { saasStream, truthOf, type SaasItem, type Truth } from '../helpers/saas-truth.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';

const LATENESS = 10_000;
const MIN = 60_000;
const START = Date.UTC(2026, 10, 3, 10);
const SPAN = 20 * MIN;
const TENANTS = ['acme', 'globex'];
const SEED = testSeed();
const { items, accepted } = saasStream({ seed: SEED, tenants: TENANTS, count: 900, start: START, spanMs: SPAN, latenessMs: LATENESS });
const truth: Truth = truthOf(accepted);

let now = START;
let t: TestApp;
let ws: Client;
let other: Client;
const tokens: Record<string, string> = {};

/** A subscription on the shared connection, recording every message. */
function listen(query: string): { messages: Msg[]; errors: unknown[] } {
  const out = { messages: [] as Msg[], errors: [] as unknown[] };
  ws.subscribe({ query }, { next: (m) => (m.errors ? out.errors.push(m.errors) : out.messages.push((m.data as { windows: Msg }).windows)), error: (e) => out.errors.push(e), complete: () => undefined });
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
    const want = expected(truth, 'acme', PER_CURRENCY);
    expect(want.size).toBeGreaterThan(100);
    const settled = () => diff(latest(perCurrency.messages), want).length === 0 && [...latest(perCurrency.messages).values()].every((m) => m.final);
    await waitFor(settled, { timeoutMs: 20_000, what: 'per-currency values, final' }).catch(() => undefined);
    expect(diff(latest(perCurrency.messages), want).slice(0, 20)).toEqual([]);
    expect([...latest(perCurrency.messages).values()].every((m) => m.final && m.currency === m.dimensions[0]!.value && m.version === 1 && !m.replayed)).toBe(true);
    expect(perCurrency.errors).toEqual([]);
  });

  it('metrics without currency: one value per minute and slice, every currency merged', async () => {
    const want = expected(truth, 'acme', CROSS);
    expect(want.size).toBeGreaterThan(50);
    const settled = () => diff(latest(cross.messages), want).length === 0 && [...latest(cross.messages).values()].every((m) => m.final);
    await waitFor(settled, { timeoutMs: 20_000, what: 'merged values, final' }).catch(() => undefined);
    expect(diff(latest(cross.messages), want).slice(0, 20)).toEqual([]);
    expect([...latest(cross.messages).values()].every((m) => m.currency === '' && m.final)).toBe(true);
  });

  it('a `where` filter and a version: only the slices that pass; the other tenant sees only its own', async () => {
    const want = expected(truth, 'acme', ['gross_revenue', 'trials', 'trial_to_paid'], [{ dimension: 'plan', in: ['pro'] }]);
    await waitFor(() => diff(latest(filtered.messages), want).length === 0, { timeoutMs: 20_000, what: 'filtered values' }).catch(() => undefined);
    expect(diff(latest(filtered.messages), want)).toEqual([]);
    expect(filtered.messages.every((m) => m.dimensions.find((d) => d.name === 'plan')!.value === 'pro')).toBe(true);
    const wantGlobex = expected(truth, 'globex', ['trials', 'gross_revenue']);
    await waitFor(() => diff(latest(globex.messages), wantGlobex).length === 0, { timeoutMs: 20_000, what: 'globex values' }).catch(() => undefined);
    expect(diff(latest(globex.messages), wantGlobex)).toEqual([]);
  });

  it('a resume with `since` replays every window from storage at its current revision', async () => {
    const resumed = listen(`subscription { windows(metrics: [TRIALS, REFUNDS, NET_REVENUE], since: "${new Date(writesFrom - 60_000).toISOString()}") { ${FIELDS} } }`);
    const want = expected(truth, 'acme', ['trials', 'refunds', 'net_revenue']);
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
