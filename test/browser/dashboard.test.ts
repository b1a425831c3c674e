/**
 * Issue 7, done-when 1–4, in Debian's Chromium against an in-process Tilecast in demo
 * mode (the page gets its read token from the server): first paint with ONE GraphQL
 * request, live tiles equal to the API within 2 s, the freshness badge turning stale and
 * back, resuming after a dropped websocket without gaps, and GraphiQL running the
 * example dashboard query. `TILECAST_SCREENSHOTS=1` also saves docs/ screenshots.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromMicros, toMicros } from '../../web/src/model/decimal.ts';
import { RESUME_OVERLAP_MS } from '../../src/resolvers/subscription-hub.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { CONTEXT_OPTIONS, DOCS_DIR, buildDashboard, launchChromium } from './browser.ts';

const STALE_AFTER_MS = 3_000;
const TENANT = `web-${randomUUID().slice(0, 8)}`;
const METRICS = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS'] as const;
type Metric = (typeof METRICS)[number];
const SCREENSHOTS = process.env.TILECAST_SCREENSHOTS === '1';

let t: TestApp;
let ingest: string;
let read: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** POST /graphql requests of the dashboard page, in order, by operation name. */
const operations: string[] = [];
/** The page's websockets, proxied so a test can cut them. */
const sockets: { route: WebSocketRoute; sent: string[]; received: string[] }[] = [];
let cut = false;

/** A deterministic, business-shaped history: yesterday and today so far, mostly USD. */
function history(now: number): Record<string, unknown>[] {
  let seed = 7;
  const rand = () => ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
  const dayStart = Math.floor(now / 86_400_000) * 86_400_000;
  const from = dayStart - 86_400_000;
  const to = now - 3 * 60_000;
  const events: Record<string, unknown>[] = [];
  for (let ts = from; ts < to; ts += 45_000) {
    const hour = new Date(ts).getUTCHours();
    const busy = 0.35 + 0.65 * Math.sin((Math.PI * Math.max(0, hour - 6)) / 18) ** 2; // quiet nights, busy afternoons
    if (rand() > busy) continue;
    const r = rand();
    const eventType = r < 0.55 ? 'purchase' : r < 0.8 ? 'signup' : r < 0.92 ? 'upgrade' : 'churn';
    const currency = rand() < 0.75 ? 'USD' : 'EUR';
    events.push({
      eventType,
      userId: `user-${Math.floor(rand() * 400)}`,
      tenantId: TENANT,
      currency,
      ...(eventType === 'purchase' ? { amount: (5 + rand() * 120).toFixed(2) } : {}),
      traceId: randomUUID().replaceAll('-', ''),
      timestamp: ts + Math.floor(rand() * 40_000),
    });
  }
  return events;
}

const tiles = () =>
  page.$$eval('#tiles .tile', (els) => Object.fromEntries(els.map((e) => [(e as HTMLElement).dataset.metric!, (e as HTMLElement).dataset.value ?? null]))) as Promise<Record<Metric, string | null>>;

/** The API's totals for exactly what the tiles show (the page publishes its range on #tiles). */
async function apiTotals(): Promise<Record<Metric, string>> {
  const range = await page.$eval('#tiles', (e) => ({ ...(e as HTMLElement).dataset }));
  const fields = METRICS.map(
    (m) => `${m}: series(input: { metric: ${m}, currency: "${range.currency}", from: "${range.from}", to: "${range.to}", granularity: ${range.granularity}, timeZone: "${range.timeZone}" }) { total }`,
  );
  const res = await t.gql<Record<Metric, { total: string }>>(read, `{ ${fields.join('\n')} }`);
  expect(res.errors).toBeUndefined();
  return Object.fromEntries(METRICS.map((m) => [m, res.data![m].total])) as Record<Metric, string>;
}

async function post(events: Record<string, unknown>[]): Promise<void> {
  const res = await t.post(ingest, JSON.stringify(events));
  expect(res.status).toBe(202);
  expect(res.json.rejected).toEqual([]);
}

beforeAll(async () => {
  const webRoot = buildDashboard();
  t = await startTestApp({
    label: 'browser',
    env: { STALE_AFTER_MS: String(STALE_AFTER_MS), FLUSH_INTERVAL_MS: '200' },
    app: { demo: { tenantId: TENANT }, webRoot },
  });
  ingest = await t.token(TENANT, 'ingest');
  read = await t.token(TENANT, 'read');
  const now = Date.now();
  await post(history(now));
  // The history is in once the API's total counts all of it.
  const purchases = history(now).filter((e) => e.eventType === 'purchase' && e.currency === 'USD').length;
  const since = new Date(Math.floor(now / 86_400_000) * 86_400_000 - 86_400_000).toISOString();
  await waitFor(async () => {
    const r = await t.gql<{ s: { total: string } }>(read, `{ s: series(input: { metric: PURCHASES, currency: "USD", from: "${since}", to: "${new Date(now + 3_600_000).toISOString()}", granularity: DAY }) { total } }`);
    return r.data?.s.total === String(purchases);
  }, { what: 'the seeded history to be readable' });
  // The aggregator keeps rewriting the backfilled (late) windows until each is final.
  // Wait for that, then for the pipeline to move well past it, so that resuming from the
  // page's last dataAsOf (minus its margin) replays the gap, not the whole seeded history.
  const settledHours = new Date(Math.floor((now - 3 * 60_000) / 3_600_000) * 3_600_000).toISOString();
  await waitFor(async () => {
    const r = await t.gql<{ s: { points: { final: boolean }[] } }>(read, `{ s: series(input: { metric: PURCHASES, currency: "USD", from: "${since}", to: "${settledHours}", granularity: HOUR }) { points { final } } }`);
    return r.data?.s.points.every((p) => p.final);
  }, { what: 'the seeded windows to be final', timeoutMs: 60_000, intervalMs: 250 });
  // A resume reads from (since − RESUME_OVERLAP_MS); the page's since is its last dataAsOf − 5 s.
  const settled = Date.now() + RESUME_OVERLAP_MS + 5_000 + 1_000;
  await waitFor(async () => Date.parse((await t.gql<{ freshness: { dataAsOf: string } }>(read, '{ freshness { dataAsOf } }')).data!.freshness.dataAsOf) > settled, {
    what: 'dataAsOf to pass the backfill',
    timeoutMs: 30_000,
    intervalMs: 250,
  });

  browser = await launchChromium();
  context = await browser.newContext(CONTEXT_OPTIONS);
  page = await context.newPage();
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/graphql') operations.push((JSON.parse(r.postData() ?? '{}') as { operationName?: string }).operationName ?? '?');
  });
  await page.routeWebSocket(/\/graphql$/, (ws) => {
    if (cut) return ws.close({ code: 1001, reason: 'test: network down' });
    const server = ws.connectToServer();
    const entry = { route: ws, sent: [] as string[], received: [] as string[] };
    sockets.push(entry);
    ws.onMessage((m) => {
      entry.sent.push(String(m));
      server.send(m);
    });
    server.onMessage((m) => {
      entry.received.push(String(m));
      ws.send(m);
    });
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.app.stop();
});

describe('example dashboard in Chromium', () => {
  it('paints every tile from ONE GraphQL request, equal to the API', async () => {
    await page.goto(`${t.url}/?period=today&currency=USD&tz=UTC&metric=REVENUE`);
    await page.waitForFunction(() => document.querySelectorAll('#tiles .tile[data-value]').length === 6, undefined, { timeout: 10_000 });
    expect(operations).toEqual(['Dashboard']); // first paint: one query, nothing else over HTTP
    expect(sockets).toHaveLength(1); // and one websocket for the live stream
    expect(await tiles()).toEqual(await apiTotals());
    expect(await page.textContent('#tenant')).toContain(TENANT);
    await waitFor(() => page.getAttribute('#badge', 'data-state').then((s) => s === 'live'), { what: 'badge live', timeoutMs: 5_000 });
    const subscribe = sockets[0]!.sent.map((m) => JSON.parse(m) as { type: string; payload?: { operationName?: string } }).filter((m) => m.type === 'subscribe');
    expect(subscribe.map((m) => m.payload?.operationName)).toEqual(['LiveUpdates']); // one subscription
  });

  it('shows events posted during the test within 2 s, without a reload, equal to the API', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const before = await tiles();
    const amounts = ['19.99', '5.01', '100', '0.000001'];
    const now = Date.now();
    const ev = (eventType: string, i: number, amount?: string) => ({ eventType, userId: `live-${randomUUID()}`, tenantId: TENANT, currency: 'USD', ...(amount ? { amount } : {}), traceId: randomUUID().replaceAll('-', ''), timestamp: now + i });
    const events = [...amounts.map((a, i) => ev('purchase', i, a)), ev('signup', 10), ev('signup', 11), ev('upgrade', 12), ev('churn', 13)];
    const add = (v: string | null, d: bigint) => fromMicros(toMicros(v!) + d);
    const expected: Record<Metric, string> = {
      REVENUE: add(before.REVENUE, amounts.reduce((s, a) => s + toMicros(a), 0n)),
      PURCHASES: add(before.PURCHASES, 4_000_000n),
      SIGNUPS: add(before.SIGNUPS, 2_000_000n),
      UPGRADES: add(before.UPGRADES, 1_000_000n),
      CHURNS: add(before.CHURNS, 1_000_000n),
      ACTIVE_USERS: add(before.ACTIVE_USERS, BigInt(events.length) * 1_000_000n), // all new users
    };
    await post(events);
    const accepted = Date.now();
    await page.waitForFunction(
      (want: Record<string, string>) => [...document.querySelectorAll<HTMLElement>('#tiles .tile')].every((e) => e.dataset.value === want[e.dataset.metric!]),
      expected,
      { timeout: 2_000, polling: 50 },
    );
    const shownAfterMs = Date.now() - accepted;
    expect(shownAfterMs).toBeLessThanOrEqual(2_000);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // same page, no reload
    expect(await apiTotals()).toEqual(expected);
    expect(operations.filter((o) => o === 'Dashboard')).toHaveLength(1); // the stream did it, not a re-read

    if (SCREENSHOTS) {
      mkdirSync(DOCS_DIR, { recursive: true });
      await page.screenshot({ path: join(DOCS_DIR, 'dashboard.png') });
    }
  });

  it('switches currency, time zone and period with one query each, still equal to the API', async () => {
    const shown = async (want: { currency: string; timeZone: string; granularity: string }) => {
      await page.waitForFunction(
        (w) => {
          const d = document.querySelector<HTMLElement>('#tiles')!.dataset;
          return d.currency === w.currency && d.timeZone === w.timeZone && d.granularity === w.granularity;
        },
        want,
        { timeout: 10_000 },
      );
      expect(await tiles()).toEqual(await apiTotals());
    };
    const reads = () => operations.filter((o) => o === 'Dashboard').length;
    const before = reads();
    await page.selectOption('#currency', 'EUR');
    await shown({ currency: 'EUR', timeZone: 'UTC', granularity: 'HOUR' });
    expect(await page.textContent('.tile[data-metric="REVENUE"] .tile-value')).toContain('€');
    await page.selectOption('#tz', 'Asia/Kolkata');
    await shown({ currency: 'EUR', timeZone: 'Asia/Kolkata', granularity: 'HOUR' });
    await page.click('#periods button[data-period="hour"]');
    await shown({ currency: 'EUR', timeZone: 'Asia/Kolkata', granularity: 'MINUTE' });
    expect(reads() - before).toBe(3);
    expect(new URL(page.url()).searchParams.get('tz')).toBe('Asia/Kolkata'); // the view is in the address

    await page.selectOption('#currency', 'USD');
    await page.selectOption('#tz', 'UTC');
    await page.click('#periods button[data-period="today"]');
    await shown({ currency: 'USD', timeZone: 'UTC', granularity: 'HOUR' });
  });

  it('resumes after a dropped websocket: what changed meanwhile arrives, no gap', async () => {
    const live = sockets.at(-1)!;
    cut = true;
    await live.route.close({ code: 1001, reason: 'test: network down' });
    await waitFor(() => page.getAttribute('#badge', 'data-state').then((s) => s === 'offline'), { what: 'badge offline', timeoutMs: 5_000 });

    const now = Date.now();
    await post([
      { eventType: 'purchase', userId: `gap-${randomUUID()}`, tenantId: TENANT, currency: 'USD', amount: '7.5', traceId: randomUUID().replaceAll('-', ''), timestamp: now },
      { eventType: 'signup', userId: `gap-${randomUUID()}`, tenantId: TENANT, currency: 'USD', traceId: randomUUID().replaceAll('-', ''), timestamp: now + 1 },
    ]);
    const before = await tiles();
    const expected = await waitFor(async () => {
      const api = await apiTotals();
      return api.SIGNUPS !== before.SIGNUPS && api.PURCHASES !== before.PURCHASES ? api : null;
    }, { what: 'the API to have the events sent while the page was offline' });
    expect(await tiles()).toEqual(before); // nothing reached the page while it was offline

    const dashboardReads = operations.filter((o) => o === 'Dashboard').length;
    cut = false;
    const socketsBefore = sockets.length;
    await page
      .waitForFunction(
        (want: Record<string, string>) => [...document.querySelectorAll<HTMLElement>('#tiles .tile')].every((e) => e.dataset.value === want[e.dataset.metric!]),
        expected,
        { timeout: 15_000, polling: 100 },
      )
      .catch(async (err: unknown) => {
        const last = sockets.at(-1)!;
        const state = { now: new Date().toISOString(), socketsBefore, sockets: sockets.length, sent: last.sent.map((m) => m.slice(0, 80) + m.slice(-80)), received: last.received.length, tiles: await tiles(), expected, operations: operations.slice(-12), badge: await page.textContent('#badge') };
        throw new Error(`${String(err)}\n${JSON.stringify(state, null, 1)}`);
      });
    // Resumed with `since` on the re-sent subscription, not by reading everything again.
    const resubscribe = sockets.at(-1)!.sent.map((m) => JSON.parse(m) as { type: string; payload?: { variables?: { since?: string } } }).find((m) => m.type === 'subscribe');
    expect(Date.parse(resubscribe?.payload?.variables?.since ?? '')).toBeLessThan(now);
    expect(operations.filter((o) => o === 'Dashboard')).toHaveLength(dashboardReads);
    await waitFor(() => page.getAttribute('#badge', 'data-state').then((s) => s === 'live'), { what: 'badge live again', timeoutMs: 5_000 });
  });

  it('turns the badge stale within STALE_AFTER_MS + 1 s of the aggregator stopping, and live after restart', async () => {
    expect(await page.getAttribute('#badge', 'data-state')).toBe('live');
    await t.app.aggregator.stop();
    const stoppedAt = Date.now();
    await page.waitForFunction(() => document.querySelector('#badge')?.getAttribute('data-state') === 'stale', undefined, { timeout: STALE_AFTER_MS + 1_000, polling: 50 });
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(STALE_AFTER_MS + 1_000);
    expect(await page.textContent('#badge')).toMatch(/^stale · \d+ s$/);
    if (SCREENSHOTS) await page.locator('header.bar').screenshot({ path: join(DOCS_DIR, 'dashboard-stale.png') });

    t.app.aggregator.start();
    await page.waitForFunction(() => document.querySelector('#badge')?.getAttribute('data-state') === 'live', undefined, { timeout: 5_000, polling: 50 });
    expect(await page.textContent('#badge')).toMatch(/^live · \d+ s ago$/);
  });

  it('GraphiQL opens with the demo token and the example operations, and runs the dashboard query', async () => {
    const giql = await context.newPage();
    await giql.goto(`${t.url}/graphql`);
    const tabs = giql.locator('.graphiql-tab-button');
    await tabs.first().waitFor({ timeout: 15_000 });
    expect(await tabs.allTextContents()).toEqual(expect.arrayContaining(['Dashboard', 'LiveUpdates', 'ActiveUsers', 'Freshness']));
    const answered = giql.waitForResponse((r) => r.request().method() === 'POST' && (r.request().postData() ?? '').includes('"operationName":"Dashboard"'));
    await giql.locator('.graphiql-execute-button').click();
    const body = (await (await answered).json()) as { data?: { revenue: { total: string } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.revenue.total).toBe((await apiTotals()).REVENUE); // the same numbers the dashboard shows
    // ...and GraphiQL shows them (the editor renders spaces as NBSP and only the lines in view).
    const response = giql.locator('.graphiql-response');
    await waitFor(async () => /"data":\s*\{\s*"freshness"/.test((await response.innerText()).replaceAll('\u00a0', ' ')), { what: 'GraphiQL to show the result', timeoutMs: 15_000 });
    expect(await response.innerText()).not.toContain('errors');
    if (SCREENSHOTS) await giql.screenshot({ path: join(DOCS_DIR, 'graphiql.png') });
    await giql.close();
  });
});
