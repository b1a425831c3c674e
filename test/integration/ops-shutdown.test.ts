/**
 * Issue 6, done-when 3: `tilecast start` gets SIGTERM while clients keep posting
 * events and a dashboard is subscribed. It exits 0; the subscriber gets a clean close
 * (1001 Going Away, which graphql-ws clients treat as "reconnect"); and every event
 * that got a 202 is in ClickHouse's windows after a restart — written by the shutdown
 * flush itself (the restarted process does not flush before we read).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTokenService } from '../../src/auth/tokens.ts';
import { freshDataDir } from '../helpers/app.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

const SECRET = 'shutdown-test-secret-0123456789abcdef012345';
const TENANT = 'opsshutdown';
const dataDir = freshDataDir('ops-shutdown');
const tokens = createTokenService(SECRET);
let child: ChildProcess | null = null;

/** Starts `tilecast start`; resolves once it is ready, with a promise of its exit. */
async function startTilecast(port: number, flushIntervalMs: number): Promise<{ url: string; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), AUTH_SECRET: SECRET, LOG_LEVEL: 'warn', FLUSH_INTERVAL_MS: String(flushIntervalMs), ALLOWED_LATENESS_MS: '2000', TZ: 'UTC' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child = c;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'tilecast to be ready' });
  return { url, exited };
}

afterAll(() => {
  child?.kill('SIGKILL');
});

const base = Date.now() - 3 * 60_000;
let serial = 0;
/** A batch of unique purchases of 1.000001 each, spread over three minutes. */
function batch(n: number) {
  return Array.from({ length: n }, () => {
    const i = serial++;
    return {
      eventId: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`,
      eventType: 'purchase',
      userId: `u${i % 50}`,
      tenantId: TENANT,
      amount: '1.000001',
      currency: 'USD',
      traceId: (i + 1).toString(16).padStart(32, 'd'),
      timestamp: base + (i % 180) * 1_000,
    };
  });
}

async function totals(url: string, token: string): Promise<{ purchases: number; revenue: string }> {
  const from = new Date(base - 60_000).toISOString();
  const to = new Date(base + 5 * 60_000).toISOString();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: `{ p: series(input: { metric: PURCHASES, currency: "USD", from: "${from}", to: "${to}", granularity: HOUR }) { total }
               r: series(input: { metric: REVENUE, currency: "USD", from: "${from}", to: "${to}", granularity: HOUR }) { total } }`,
    }),
  });
  const body = (await res.json()) as { data: { p: { total: string }; r: { total: string } } };
  return { purchases: Number(body.data.p.total), revenue: body.data.r.total };
}

/** Exact revenue of n purchases of 1.000001, as the API prints it. */
const revenueOf = (n: number) => {
  const micros = BigInt(n) * 1_000_001n;
  const frac = (micros % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${micros / 1_000_000n}${frac ? `.${frac}` : ''}`;
};

describe('graceful shutdown on SIGTERM (embedded)', () => {
  it('under load: exits 0, closes subscribers with 1001, and every 202-acknowledged event is stored', async () => {
    const token = await tokens.mint({ tenantId: TENANT, scope: 'admin', ttlSeconds: 3600 });
    const port = await freePort();
    const first = await startTilecast(port, 250);

    // A dashboard, subscribed.
    let closeCode: number | null = null;
    let updates = 0;
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (e) => void (closeCode ??= (e as { code: number }).code) },
    });
    let connected = false;
    client.on('connected', () => (connected = true));
    client.subscribe({ query: 'subscription { windows(metrics: [PURCHASES]) { value } }' }, { next: () => void updates++, error: () => undefined, complete: () => undefined });
    await waitFor(() => connected, { what: 'subscriber connected' });

    // Three clients posting back to back (keep-alive connections) until the server refuses.
    const acknowledged: ReturnType<typeof batch>[] = [];
    const unknown: ReturnType<typeof batch>[] = [];
    let refused = 0;
    let stop = false;
    const poster = async () => {
      for (let k = 0; k < 400 && !stop; k++) {
        const events = batch(40);
        try {
          const res = await fetch(`${first.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(events) });
          if (res.status === 202) acknowledged.push(events);
          else {
            expect(res.status).toBe(503); // draining: "retry on another instance"
            refused += 1;
            unknown.push(events);
          }
          await res.arrayBuffer();
        } catch {
          unknown.push(events); // connection refused or reset: the client cannot know
          refused += 1;
        }
        if (refused > 0) return;
      }
    };
    const posters = [poster(), poster(), poster()];
    await waitFor(() => acknowledged.length >= 15 && updates > 0, { timeoutMs: 60_000, what: 'load and live updates' });

    const signalledAt = Date.now();
    child!.kill('SIGTERM');
    const exit = await first.exited;
    stop = true;
    await Promise.all(posters);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(25_000);
    await waitFor(() => closeCode !== null, { what: 'the subscriber to see the close' });
    expect(closeCode).toBe(1001);
    await client.dispose();

    // Restart with flushes far apart: what we read is what the shutdown flush wrote.
    const acked = acknowledged.reduce((n, b) => n + b.length, 0);
    const second = await startTilecast(port, 600_000);
    const stored = await totals(second.url, token);
    expect(stored.purchases).toBeGreaterThanOrEqual(acked);
    expect(stored.purchases).toBeLessThanOrEqual(acked + unknown.reduce((n, b) => n + b.length, 0));
    expect(stored.revenue).toBe(revenueOf(stored.purchases));

    // Every acknowledged batch is in the event log (a retry is all duplicates); the
    // client now retries the batches whose fate it could not know.
    for (const events of acknowledged.slice(0, 5)) {
      const res = await fetch(`${second.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(events) });
      expect(((await res.json()) as { duplicates: number }).duplicates).toBe(events.length);
    }
    for (const events of unknown) {
      const res = await fetch(`${second.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(events) });
      expect(res.status).toBe(202);
    }
    // A second SIGTERM, idle this time: its flush writes the retried events.
    child!.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    const third = await startTilecast(port, 600_000);
    const all = acked + unknown.reduce((n, b) => n + b.length, 0);
    expect(await totals(third.url, token)).toEqual({ purchases: all, revenue: revenueOf(all) });
    child!.kill('SIGTERM');
    expect(await third.exited).toEqual({ code: 0, signal: null });
    child = null;

    // `tilecast replay` over the same data (stopped: chdb opens a data dir in one process at a
    // time): not a terminal, so plain progress lines; the log and the windows agree, and a
    // second run confirms it changes nothing.
    const replay = () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'replay', '--tenant', TENANT, '--from', new Date(base - 60_000).toISOString(), '--to', new Date(Date.now() + 3_600_000).toISOString(), '--chunk-size', '2'], {
        env: { ...process.env, DATA_DIR: dataDir, AUTH_SECRET: SECRET, LOG_LEVEL: 'warn', TZ: 'UTC' },
      });
    for (const run of [await replay(), await replay()]) {
      const m = new RegExp(`^replayed ${TENANT} .*: (\\d+) windows from (\\d+) logged events; 0 rewritten with a higher revision, (\\d+) already matched the log\\n$`).exec(run.stdout);
      expect(m, run.stdout).not.toBeNull();
      expect(Number(m![1])).toBe(Number(m![3]));
      expect(Number(m![2])).toBeGreaterThan(0);
      expect(Number(m![2])).toBeLessThanOrEqual(all);
      const lines = run.stderr.split('\n').filter((l) => l.startsWith('['));
      expect(lines.length).toBeGreaterThan(1);
      expect(lines.at(-1)).toMatch(/100% (\d+)\/\1 windows · .* · ETA 0:00$/);
    }
  }, 240_000);
});
