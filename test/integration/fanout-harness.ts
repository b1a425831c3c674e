/**
 * Processes and clients for the fan-out tests and the subscription benchmark:
 * `tilecast start` / `tilecast api` replicas on Redis, graphql-ws subscribers that record what they
 * receive, and an event generator. The shared ClickHouse (scripts/chdb-server.ts)
 * comes from kafka-harness.ts; a Redis to restart from test/helpers/redis.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { createWindowChangesReader } from '../../src/storage/window-changes.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';
import { ROOT, openClickHouse } from './kafka-harness.ts';

export const scratch = (label: string) => mkdtempSync(join(tmpdir(), `tilecast-${label}-`));

export interface Proc {
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

function spawnNode(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => out };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** `tilecast start` (API + aggregator) or `tilecast api` (API, events to Kafka) with `env`; resolves once /readyz answers 200. */
export async function startTilecast(env: Record<string, string>, command: 'start' | 'api' = 'start'): Promise<Proc> {
  const port = await freePort();
  const { child, output } = spawnNode(['src/cli/main.ts', command], { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`tilecast exited ${child.exitCode}: ${output()}`);
      return (await fetch(`${url}/readyz`).catch(() => null))?.status === 200;
    },
    { timeoutMs: 90_000, intervalMs: 200, what: `tilecast on ${url}` },
  );
  return { url, pid: child.pid!, output, stop: stopper(child) };
}

/** The current state of every window of `tenantId` in ClickHouse (revision and values). */
export async function openWindowsReader(clickhouseUrl: string) {
  const db = await openClickHouse(clickhouseUrl);
  const reader = createWindowChangesReader(db);
  return {
    windows: (tenantId: string) => reader.changedSince({ tenantId, since: 0, limit: 100_000 }),
    close: () => db.close(),
  };
}

export interface WindowMsg {
  metric: string;
  currency: string;
  windowStart: string;
  value: string;
  revision: number;
  kind: string;
  replayed: boolean;
  freshness: { dataAsOf: string };
}

export const WINDOWS_QUERY = `subscription W($since: DateTime, $currency: String) {
  windows(since: $since, currency: $currency) { metric currency windowStart value revision kind replayed freshness { dataAsOf } }
}`;

/** A graphql-ws client on `url` recording every `windows` message (with its arrival time). */
export function windowsSubscriber(url: string, token: string, variables: Record<string, unknown> = {}) {
  const messages: (WindowMsg & { at: number })[] = [];
  const errors: unknown[] = [];
  const client: Client = createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  client.subscribe(
    { query: WINDOWS_QUERY, variables },
    {
      next: (m) => messages.push({ ...(m.data as { windows: WindowMsg }).windows, at: Date.now() }),
      error: (e) => errors.push(e),
      complete: () => undefined,
    },
  );
  return {
    messages,
    errors,
    /** Newest message per window × metric. */
    latest(): Map<string, WindowMsg> {
      const out = new Map<string, WindowMsg>();
      for (const m of messages) {
        const key = `${m.currency}|${Date.parse(m.windowStart)}|${m.metric}`;
        if ((out.get(key)?.revision ?? 0) < m.revision) out.set(key, m);
      }
      return out;
    },
    close: () => client.dispose(),
  };
}

export type WindowsSubscriber = ReturnType<typeof windowsSubscriber>;

const METRIC_OF: Record<string, (w: Awaited<ReturnType<Awaited<ReturnType<typeof openWindowsReader>>['windows']>>[number]) => string> = {
  REVENUE: (w) => w.revenue,
  PURCHASES: (w) => String(w.purchases),
  SIGNUPS: (w) => String(w.signups),
  UPGRADES: (w) => String(w.upgrades),
  CHURNS: (w) => String(w.churns),
  ACTIVE_USERS: (w) => String(w.activeUsers),
};

/** The database's windows in the shape of `latest()`: key → {revision, value}. */
export function expectedFromDb(rows: Awaited<ReturnType<Awaited<ReturnType<typeof openWindowsReader>>['windows']>>) {
  const out = new Map<string, { revision: number; value: string }>();
  for (const w of rows) for (const [metric, value] of Object.entries(METRIC_OF)) out.set(`${w.currency}|${w.windowStart}|${metric}`, { revision: w.revision, value: value(w) });
  return out;
}

export const asRevisionValues = (latest: Map<string, WindowMsg>) => new Map([...latest].map(([k, m]) => [k, { revision: m.revision, value: m.value }]));

/** Valid Event v1 items of `tenantId` in the given currencies, spread over `minutes` one-minute windows starting at `from`. */
export function events(tenantId: string, o: { count: number; from: number; minutes: number; currencies: string[] }) {
  const types = ['purchase', 'purchase', 'signup', 'upgrade', 'churn'] as const;
  return Array.from({ length: o.count }, (_, i) => {
    const eventType = types[i % types.length]!;
    return {
      eventId: randomUUID(),
      eventType,
      userId: `u${i % 17}`,
      tenantId,
      ...(eventType === 'purchase' ? { amount: `${1 + (i % 50)}.${String(i % 100).padStart(2, '0')}` } : {}),
      currency: o.currencies[i % o.currencies.length]!,
      traceId: randomBytes(16).toString('hex'),
      timestamp: o.from + ((i * 7_919) % (o.minutes * 60_000)),
    };
  });
}

export async function postEvents(url: string, token: string, items: unknown[]): Promise<void> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(items) });
  const body = (await res.json()) as { accepted?: number };
  if (res.status !== 202 || body.accepted !== items.length) throw new Error(`POST /v1/events: ${res.status} ${JSON.stringify(body)}`);
}

/** Connections subscribed to `channel` on the Redis at `redisUrl`. */
export async function subscriberCount(redisUrl: string, channel: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
  } finally {
    redis.disconnect();
  }
}
