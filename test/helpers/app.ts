/** Starts an in-process Tilecast on a fresh data directory with test-friendly settings. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type AppOptions } from '../../src/app/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { Scope } from '../../src/auth/tokens.ts';

export const freshDataDir = (label: string): string => mkdtempSync(join(tmpdir(), `tilecast-${label}-`));

export interface TestApp {
  app: App;
  url: string;
  dataDir: string;
  token(tenantId: string, scope?: Scope): Promise<string>;
  gql<T = Record<string, unknown>>(token: string, query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>;
  post(token: string, body: string, contentType?: string): Promise<{ status: number; json: Record<string, unknown> }>;
}

export async function startTestApp(
  o: { env?: Record<string, string>; clock?: () => number; label?: string; dataDir?: string; app?: Pick<AppOptions, 'demo' | 'webRoot' | 'plan'> } = {},
): Promise<TestApp> {
  const dataDir = o.dataDir ?? freshDataDir(o.label ?? 'test');
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...o.env });
  const app = await createApp({ config, clock: o.clock, ...o.app });
  const { url } = await app.start();
  return {
    app,
    url,
    dataDir,
    token: (tenantId, scope = 'admin') => app.tokens.mint({ tenantId, scope, ttlSeconds: 3600 }),
    async gql(token, query, variables) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as never;
    },
    async post(token, body, contentType = 'application/json') {
      const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${token}` }, body });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
  };
}
