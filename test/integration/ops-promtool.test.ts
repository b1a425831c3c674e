/**
 * Prometheus' own checks: `promtool check metrics` finds no lint problems in a live scrape
 * (every Tilecast series is registered at start, the bus's with REDIS_URL), the alert rules
 * pass `promtool check rules`, and `promtool test rules` proves the staleness (45 s),
 * consumer-lag (5,000) and dead-letter (5 %) alerts fire above their thresholds only.
 *
 * promtool comes with Debian's `prometheus` package (.ci/run installs it). Without it the
 * tests are skipped on a developer machine and fail in CI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { testRedisUrl } from '../helpers/redis.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const REDIS_URL = testRedisUrl();

function promtoolVersion(): string | null {
  try {
    return execFileSync('promtool', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? '';
  } catch {
    return null;
  }
}
const version = promtoolVersion();
if (!version && process.env.CI) throw new Error('promtool not found: install Debian\'s package (apt-get install prometheus); .ci/run does this in CI.');

const promtool = (args: string[], input?: string) => spawnSync('promtool', args, { cwd: REPO, input, encoding: 'utf8' });

describe.skipIf(!version)(`promtool (${version ?? 'not installed: apt-get install prometheus'})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: 'promtool', env: { REDIS_URL, REDIS_CHANNEL_PREFIX: `promtool-${process.pid}` } });
  }, 120_000);
  afterAll(() => t?.app.stop());

  it('check metrics: a live scrape has no lint problems', async () => {
    const scrape = await (await fetch(`${t.url}/metrics`)).text();
    expect(scrape).toMatch(/^# TYPE tilecast_bus_messages_received_total counter$/m);
    const r = promtool(['check', 'metrics'], scrape);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('check rules: the alert rules are valid', () => {
    const r = promtool(['check', 'rules', 'ops/prometheus/alerts.yml']);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('test rules: staleness, consumer lag and dead letters fire above their thresholds only', () => {
    const r = promtool(['test', 'rules', 'ops/prometheus/alerts.test.yml']);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });
});
