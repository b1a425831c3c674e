/**
 * Browser-test plumbing: Debian's Chromium driven by playwright-core (no browser
 * download, see shared/ENVIRONMENT.md), and a fresh build of web/ per test file so the
 * tests always exercise the current sources (CI builds it here, before any page loads).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Fails loudly (never skips) when Chromium is missing: CI installs Debian's package. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. Install Debian's package (apt-get install chromium); .ci/run does this in CI.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps dialling Google on this closed network.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** `vite build` of web/ into a fresh temp directory (≈1 s); returns that directory. */
export function buildDashboard(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'tilecast-web-'));
  execFileSync(join(REPO, 'node_modules/.bin/vite'), ['build', '--config', 'web/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return outDir;
}

/** Chromium flags are global; a context per test keeps storage (tokens, GraphiQL tabs) apart. */
export const CONTEXT_OPTIONS = { viewport: { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-US' } as const;

/** Where `TILECAST_SCREENSHOTS=1` runs save README screenshots. */
export const DOCS_DIR = join(REPO, 'docs');
