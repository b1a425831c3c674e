/**
 * The dashboard outside demo mode: the server never hands out a token, the page asks
 * for one (or takes `#token=` from the address), rejects a bad one clearly, and GraphiQL
 * opens without a prefilled Authorization header. Plus the static route's hygiene.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { CONTEXT_OPTIONS, buildDashboard, launchChromium } from './browser.ts';

let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp({ label: 'browser-auth', app: { webRoot: buildDashboard() } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.app.stop();
});

async function newPage(): Promise<Page> {
  return (await browser.newContext(CONTEXT_OPTIONS)).newPage();
}
const tilesShown = (page: Page) => page.waitForFunction(() => document.querySelectorAll('#tiles .tile[data-value]').length === 6, undefined, { timeout: 10_000 });

describe('dashboard without demo mode', () => {
  it('is served without any token, with a strict content security policy', async () => {
    const res = await fetch(`${t.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain('tilecast-demo-token');
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const asset = /src="(\/assets\/[^"]+)"/.exec(html)![1]!;
    const js = await fetch(`${t.url}${asset}`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('cache-control')).toContain('immutable');
  });

  it('serves nothing outside the built files', async () => {
    const secret = readFileSync(join(t.dataDir, 'auth-secret'), 'utf8').trim();
    // Raw paths (fetch would normalise the dots away before sending).
    const raw = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        get({ host: new URL(t.url).hostname, port: new URL(t.url).port, path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    for (const path of ['/assets/..%2Fauth-secret', '/assets/../../auth-secret', '/assets/%2e%2e/%2e%2e/auth-secret', '/assets/nope.js', '/../auth-secret']) {
      const res = await raw(path);
      expect(res.body).not.toContain(secret);
      expect(res.status).not.toBe(200);
    }
  });

  it('asks for a token, says when it is rejected, and opens with a valid one', async () => {
    const page = await newPage();
    await page.goto(`${t.url}/?tz=UTC`);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.isHidden('#app')).toBe(true);

    await page.fill('#login-token', 'not-a-token');
    await page.click('#login button[type=submit]');
    await page.locator('#login-error').filter({ hasText: /token/i }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#login-error')).toMatch(/Unauthenticated|rejected/);

    await page.fill('#login-token', await t.token('auth-tenant', 'read'));
    await page.click('#login button[type=submit]');
    await tilesShown(page);
    expect(await page.textContent('#tenant')).toBe('auth-tenant');
    await page.context().close();
  });

  it('takes #token= from the address, keeps it out of the address bar and out of requests', async () => {
    const page = await newPage();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.goto(`${t.url}/?tz=UTC#token=${await t.token('hash-tenant', 'read')}`);
    await tilesShown(page);
    expect(page.url()).not.toContain('token=');
    expect(urls.some((u) => u.includes('token='))).toBe(false);
    expect(await page.textContent('#tenant')).toBe('hash-tenant');
    await page.context().close();
  });

  it('GraphiQL opens with the example tabs but no Authorization header', async () => {
    const res = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    const html = await res.text();
    expect(html).toContain('query Dashboard');
    expect(html).not.toContain('Bearer ');
  });
});
