/**
 * Issue 16 item 2: an analyst opens GraphiQL, pastes a token into the Headers tab and runs
 * a subscription: the websocket's connection_init carries that token, and an update pushed
 * after an event shows up in the result pane. Without a token GraphiQL says why (4403)
 * instead of spinning.
 *
 * Both run as on a busy machine, where the analyst's paste-and-run beats GraphiQL's
 * re-parse of the editor: GraphiQL works out the document's AST and operation name in a
 * handler it debounces by 100 ms after each edit, and hands the fetcher whatever it last
 * worked out, i.e. the previous document's. Under a full CI run that is what happened: the
 * pasted subscription went over HTTP as the new tab's dashboard query and the pane said
 * "Missing bearer token", never 4403. Here the page's 100 ms timers are stretched to 10 s
 * (the delay injected where the race is), so the fetcher must decide from the text it is
 * sent every time, not only when the machine is slow.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { CONTEXT_OPTIONS, launchChromium } from './browser.ts';

const MINUTE = 60_000;
const TENANT = 'analyst';
let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp({ label: 'graphiql-subs', env: { FLUSH_INTERVAL_MS: '100', ALLOWED_LATENESS_MS: String(24 * 60 * MINUTE) } });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.app.stop();
});

const SUBSCRIPTION = 'subscription Analyst { windows(metrics: [PURCHASES], currency: "EUR") { metric currency value revision } }';

/** GraphiQL's debounce of editor changes (100 ms) made to fire only long after the test has run its operation. */
const LATE_EDITOR_FACTS = () => {
  const setTimeoutOf = window.setTimeout.bind(window);
  window.setTimeout = ((fn: TimerHandler, ms?: number, ...args: unknown[]) => setTimeoutOf(fn, ms === 100 ? 10_000 : ms, ...args)) as typeof window.setTimeout;
};

/** GraphiQL on its LiveUpdates tab's place: a fresh tab with `query` and `headers` typed in as an analyst would paste them. */
async function openGraphiQL(headers: string | null): Promise<Page> {
  const page = await (await browser.newContext(CONTEXT_OPTIONS)).newPage();
  await page.addInitScript(LATE_EDITOR_FACTS);
  await page.goto(`${t.url}/graphql`);
  await page.locator('.graphiql-tab-button').first().waitFor({ timeout: 15_000 });
  await page.locator('.graphiql-tab-add').click();
  await replaceEditorText(page, page.locator('.graphiql-query-editor'), SUBSCRIPTION);
  if (headers !== null) {
    await page.getByRole('button', { name: 'Headers' }).click();
    await replaceEditorText(page, page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)').last(), headers);
  }
  return page;
}

async function replaceEditorText(page: Page, editor: ReturnType<Page['locator']>, text: string) {
  await editor.locator('.monaco-editor').first().click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  // insertText: as a paste, without the editor's auto-closing of brackets and quotes.
  await page.keyboard.insertText(text);
}

const responseText = async (page: Page) => (await page.locator('.graphiql-response').innerText()).replaceAll('\u00a0', ' ');

describe('GraphiQL subscriptions', () => {
  it('carry the Headers tab token in connection_init and show pushed updates', async () => {
    const token = await t.token(TENANT, 'read');
    const ingest = await t.token(TENANT, 'ingest');
    const page = await openGraphiQL(JSON.stringify({ Authorization: `Bearer ${token}` }));
    const initPayloads: unknown[] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        const msg = JSON.parse(String(f.payload)) as { type: string; payload?: unknown };
        if (msg.type === 'connection_init') initPayloads.push(msg.payload);
      }),
    );
    await page.locator('.graphiql-execute-button').click();
    await waitFor(() => initPayloads.length > 0, { what: 'connection_init' });
    expect(initPayloads).toEqual([{ authorization: `Bearer ${token}` }]);

    // Post until an update is in the pane (the server registers the subscription asynchronously).
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    await waitFor(
      async () => {
        if (/"metric": "PURCHASES"/.test(await responseText(page))) return true;
        const event = { eventId: randomUUID(), eventType: 'purchase', userId: 'u1', tenantId: TENANT, amount: '2.00', currency: 'EUR', traceId: randomUUID().replaceAll('-', ''), timestamp: minute + 1_000 };
        expect((await t.post(ingest, JSON.stringify([event]))).status).toBe(202);
        return false;
      },
      { what: 'the pushed update in the result pane', timeoutMs: 20_000, intervalMs: 500 },
    );
    const shown = await responseText(page);
    expect(shown).toMatch(/"windows": \{\s*"metric": "PURCHASES",\s*"currency": "EUR",\s*"value": "\d+",\s*"revision": \d+/);
    expect(shown).not.toContain('errors');
    await page.context().close();
  });

  it('without a token, the result pane says the websocket was refused (4403) instead of spinning', async () => {
    const page = await openGraphiQL(null);
    await page.locator('.graphiql-execute-button').click();
    // A timeout says what the pane showed instead.
    await waitFor(
      async () => {
        const shown = await responseText(page);
        if (!/Websocket closed 4403/.test(shown)) throw new Error(`the result pane shows ${JSON.stringify(shown.slice(0, 300))}`);
        return true;
      },
      { what: 'the 4403 explanation', timeoutMs: 15_000 },
    );
    await page.context().close();
  });
});
