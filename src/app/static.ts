/**
 * Serves the built example dashboard (`npm run build:web` → dist/web) at `/` from the
 * API process. The dashboard is a plain HTTP/WebSocket client of this API; nothing
 * here knows what it shows.
 *
 * Demo mode only (`tilecast start --demo`): each page load gets a short-lived READ
 * token for the demo tenant in `<meta name="tilecast-demo-token">`, so the page opens
 * without a login. Without demo mode the page is served as built and asks for a token.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` writes the dashboard. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

// The page loads only its own files and talks only to this origin (HTTP and websocket).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Hashed asset names only: one path segment, so nothing can climb out of `root`. */
const ASSET = /^\/assets\/[A-Za-z0-9_.-]+$/;
const HEAD_MARKER = '<!--tilecast:head-->';

export interface StaticOptions {
  /** Built dashboard directory; default DEFAULT_WEB_ROOT. */
  root?: string;
  /** Demo mode: mints the token injected into the page. Absent = no token is ever injected. */
  demoToken?: () => Promise<string>;
}

/** Returns a handler that answers GET/HEAD `/`, `/index.html` and `/assets/*`, and returns false for anything else. */
export function createStaticHandler(o: StaticOptions = {}) {
  const root = o.root ?? DEFAULT_WEB_ROOT;

  async function page(res: ServerResponse): Promise<void> {
    let html: string;
    try {
      html = await readFile(join(root, 'index.html'), 'utf8');
    } catch {
      res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
      res.end('<!doctype html><title>Tilecast</title><p>The dashboard is not built. Run <code>npm run build:web</code> (npm start does it) and reload. GraphQL is at <a href="/graphql">/graphql</a>.</p>');
      return;
    }
    if (o.demoToken) {
      const token = (await o.demoToken()).replace(/[^A-Za-z0-9._-]/g, '');
      html = html.replace(HEAD_MARKER, `<meta name="tilecast-demo-token" content="${token}" />`);
    }
    // Never cached: it references the current build's hashed assets (and carries a fresh demo token).
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
    res.end(html);
  }

  async function asset(path: string, res: ServerResponse): Promise<boolean> {
    let body: Buffer;
    try {
      body = await readFile(join(root, path));
    } catch {
      return false;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': body.length,
      // File names carry a content hash: a new build has new names.
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
    return true;
  }

  return async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/' || path === '/index.html') {
      await page(res);
      return true;
    }
    if (ASSET.test(path)) return asset(path, res);
    return false;
  };
}

export type StaticHandler = ReturnType<typeof createStaticHandler>;
