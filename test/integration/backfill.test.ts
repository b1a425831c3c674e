/**
 * Issue 14 item 5 (backfill): a seeded stream is ingested with models/default.yaml; a
 * process restarts with a model that adds a metric (upgrade_revenue@1) and a second
 * version of one (purchases@2, another `where`). `tilecast backfill` is killed with
 * SIGKILL mid-run (after the seed's chunk is written, before it is recorded), a late
 * event reaches an old window while the backfill is incomplete, and a rerun finishes:
 * metric_windows FINAL (and metric_windows_hourly FINAL) of the new versions equal a
 * brute-force computation from the accepted events, a logged duplicate row included once;
 * incompleteBefore goes from non-null to null. Storage is one chdb data directory served
 * by scripts/chdb-server.ts, shared by the test, the live app and the CLI processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLocalLease } from '../../src/aggregate/backfill/lease.ts';
import { createBackfillStore } from '../../src/storage/backfill-store.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { generateDataset, prng, type GeneratedEvent } from '../helpers/dataset.ts';
import { testSeed, withSeed } from '../helpers/seed.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tilecast-backfill-'));
const HOUR = 3_600_000;
const TENANTS = ['bfone', 'bftwo'];
const NEW_IDS = ['upgrade_revenue@1', 'purchases@2'];
const seed = testSeed();
const now = Date.now();
const start = Math.floor(now / HOUR) * HOUR - 7 * HOUR;
const { items, events } = generateDataset({ seed, tenants: TENANTS, currencies: ['USD', 'EUR'], count: 1_600, start, spanMs: 7 * HOUR - 15 * 60_000 + (now % HOUR), allowedLatenessMs: 1_000, lateRate: 0, invalidRate: 0 });
const accepted: GeneratedEvent[] = [...events];

/** The default model plus a new metric and a second version of purchases (another where). */
const newModel = join(dir, 'model.yaml');
writeFileSync(
  newModel,
  `${readFileSync(join(ROOT, 'models/default.yaml'), 'utf8')}
  - { name: upgrade_revenue, version: 1, unit: currency, description: Amounts on upgrades., sum: amount, where: { eventType: upgrade }, by: [currency] }
  - { name: purchases, version: 2, unit: count, description: Purchases and upgrades., count: true, where: { eventType: [purchase, upgrade] }, by: [currency] }
`,
);
copyFileSync(join(ROOT, 'models/default.yaml'), join(dir, 'default.yaml'));

let server: ChildProcess;
let url = '';
let app: TestApp | null = null;

async function startApp(model: string): Promise<TestApp> {
  return startTestApp({ label: 'backfill', env: { CLICKHOUSE_URL: url, TILECAST_MODEL: model, FLUSH_INTERVAL_MS: '100', ALLOWED_LATENESS_MS: '1000' } });
}

beforeAll(async () => {
  server = spawn(process.execPath, ['--import', 'tsx', 'scripts/chdb-server.ts', '--path', join(dir, 'data'), '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1], { timeoutMs: 60_000, what: 'chdb-server URL' });
}, 90_000);
afterAll(async () => {
  await app?.app.stop();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await waitFor(() => server.exitCode !== null || server.signalCode !== null, { timeoutMs: 30_000, what: 'chdb-server exit' });
  }
});

const micros = (s: string): bigint => {
  const [w = '0', f = ''] = s.split('.');
  return BigInt(w) * 1_000_000n + BigInt(f.padEnd(6, '0').slice(0, 6)) * (w.startsWith('-') ? -1n : 1n);
};

/** Brute force: per (tenant, currency, minute or hour) the value of a version, from the accepted events. */
function expected(id: string, bucketMs: number): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const e of accepted) {
    const counts = id === 'purchases@2' ? e.eventType === 'purchase' || e.eventType === 'upgrade' : id === 'purchases@1' ? e.eventType === 'purchase' : e.eventType === 'upgrade';
    if (!counts) continue;
    const key = `${e.tenantId}|${e.currency}|${Math.floor(e.timestamp / bucketMs) * bucketMs}`;
    // In micro-units, as `stored` reads values (a count of 1 is 1.000000).
    const add = id === 'upgrade_revenue@1' ? (e.amount ? micros(e.amount) : 0n) : 1_000_000n;
    out.set(key, (out.get(key) ?? 0n) + add);
  }
  return out;
}

const storedRow = z.object({ tenant_id: z.string(), dims: z.array(z.string()), at: z.coerce.number(), value: z.string() });
async function stored(id: string, table: 'metric_windows' | 'metric_windows_hourly'): Promise<Map<string, bigint>> {
  const [metric, version] = id.split('@');
  const at = table === 'metric_windows' ? 'window_start' : 'hour_start';
  const rows = await app!.app.db.query({
    queryId: 'test.backfill_stored',
    sql: `SELECT tenant_id, dims, toUnixTimestamp(${at}) * 1000 AS at, toString(sum(value)) AS value FROM ${table} FINAL
          WHERE metric = {metric:String} AND metric_version = {version:UInt16} GROUP BY tenant_id, dims, at`,
    params: { metric: metric!, version: Number(version) },
    row: storedRow,
  });
  return new Map(rows.map((r) => [`${r.tenant_id}|${r.dims[0]}|${r.at}`, micros(r.value)]));
}

/** Buckets whose stored value differs from the brute force: `key: stored ≠ expected`. */
function differences(got: Map<string, bigint>, want: Map<string, bigint>): string[] {
  const keys = [...new Set([...got.keys(), ...want.keys()])].sort();
  return keys.filter((k) => got.get(k) !== want.get(k)).map((k) => `${k}: ${got.get(k) ?? 'none'} ≠ ${want.get(k) ?? 'none'}`);
}

async function post(list: readonly { postAs: string; body: unknown }[]): Promise<void> {
  for (let i = 0; i < list.length; i += 200) {
    const batch = list.slice(i, i + 200);
    for (const tenant of TENANTS) {
      const mine = batch.filter((x) => x.postAs === tenant).map((x) => x.body);
      if (mine.length === 0) continue;
      const res = await app!.post(await app!.token(tenant), JSON.stringify(mine));
      expect(res.status).toBe(202);
    }
  }
}

/** Windows FINAL hold every accepted event (the live path caught up). */
async function windowsCaughtUp(): Promise<boolean> {
  const [row] = await app!.app.db.query({
    queryId: 'test.backfill_counted',
    sql: 'SELECT sum(purchases + signups + upgrades + churns) AS n FROM windows FINAL',
    row: z.object({ n: z.coerce.number() }),
  });
  return row?.n === accepted.length;
}

function runCli(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'backfill'], {
    cwd: ROOT,
    env: { ...process.env, CLICKHOUSE_URL: url, TILECAST_MODEL: newModel, DATA_DIR: join(dir, 'cli'), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out, err })));
}

describe('backfill of a new metric and a new version from the event log', () => {
  it('ingests the seeded stream with the default model', async () => {
    app = await startApp(join(dir, 'default.yaml'));
    await post(items);
    await waitFor(windowsCaughtUp, { timeoutMs: 120_000, what: 'windows to count every accepted event' });
    // The log holds one event twice (two writers racing past the dedupe): it must count once.
    await app.app.db.command({
      queryId: 'test.backfill_duplicate_row',
      sql: `INSERT INTO events SETTINGS insert_deduplication_token = 'test-dup' SELECT * FROM events WHERE event_type = 'upgrade' AND amount IS NOT NULL LIMIT 3`,
    });
    await app.app.stop();
    app = null;
  }, 180_000);

  it('is resumable after kill -9, exact with a late event, and completes incompleteBefore', async () => {
    await withSeed(seed, async () => {
      // This process holds the (in-process) lease: the restarted app computes the new
      // versions live but leaves the backfill to the CLI.
      const lease = createLocalLease();
      expect(await lease.acquire()).toBe(true);
      app = await startApp(newModel);
      const store = createBackfillStore(app.app.db);
      const before = await store.incompleteBefore(NEW_IDS);
      for (const id of NEW_IDS) expect(before.get(id), id).not.toBeNull();
      expect((await stored('upgrade_revenue@1', 'metric_windows')).size).toBe(0);

      const killAfter = 1 + (prng(seed).int(0, 4) as number);
      const killed = await runCli({ TILECAST_BACKFILL_KILL_AFTER_CHUNKS: String(killAfter) });
      expect(killed.signal, killed.err).toBe('SIGKILL');
      const partial = await store.incompleteBefore(NEW_IDS);
      for (const id of NEW_IDS) expect(partial.get(id), id).not.toBeNull();

      // A late upgrade (with an amount) to a minute of the oldest hour, not backfilled yet, counted live while the backfill is incomplete.
      const late: GeneratedEvent = { eventType: 'upgrade', userId: 'u1', tenantId: 'bfone', currency: 'USD', amount: '7.000001', traceId: 'a'.repeat(32), timestamp: start + 90_000 };
      // And one to the newest hour, which the killed run had covered already.
      const recent: GeneratedEvent = { ...late, tenantId: 'bftwo', currency: 'EUR', amount: '0.5', traceId: 'b'.repeat(32), timestamp: now - 20 * 60_000 };
      accepted.push(late, recent);
      await post([{ postAs: 'bfone', body: late }, { postAs: 'bftwo', body: recent }]);
      await waitFor(windowsCaughtUp, { timeoutMs: 30_000, what: 'the late event to be counted' });

      const rerun = await runCli({});
      expect(rerun.code, rerun.err).toBe(0);
      expect(rerun.out).toMatch(/backfilled .*events\/s/);
      for (const id of [...NEW_IDS, 'purchases@1']) {
        expect(differences(await stored(id, 'metric_windows'), expected(id, 60_000)), `${id} minutes`).toEqual([]);
        expect(differences(await stored(id, 'metric_windows_hourly'), expected(id, HOUR)), `${id} hours`).toEqual([]);
      }
      const after = await store.incompleteBefore(NEW_IDS);
      for (const id of NEW_IDS) expect(after.get(id), id).toBeNull();
      // A second run has nothing left to do.
      const again = await runCli({});
      expect(again.out).toMatch(/nothing \(every metric is complete\)/);
      await lease.release();
    });
  }, 240_000);

  it('leaves the minutes older than the log incomplete for good', async () => {
    // The log's oldest hour expires (what RETENTION_EVENTS_DAYS' TTL does), then a version is added.
    await app!.app.db.command({ queryId: 'test.backfill_expire', sql: `ALTER TABLE events DELETE WHERE window_start < {cut:DateTime('UTC')} SETTINGS mutations_sync = 2`, params: { cut: (start + HOUR) / 1000 } });
    await app!.app.stop();
    const third = join(dir, 'model3.yaml');
    writeFileSync(third, `${readFileSync(newModel, 'utf8')}  - { name: churns, version: 2, unit: count, description: Churns and signups., count: true, where: { eventType: [churn, signup] }, by: [currency] }\n`);
    app = await startApp(third);
    const store = createBackfillStore(app.app.db);
    await waitFor(async () => (await store.incompleteBefore(['churns@2'])).get('churns@2') === start + HOUR, { timeoutMs: 120_000, what: 'the background backfill to reach the oldest logged hour' });
    const want = new Map<string, bigint>();
    for (const e of accepted) {
      if ((e.eventType !== 'churn' && e.eventType !== 'signup') || e.timestamp < start + HOUR) continue;
      const key = `${e.tenantId}|${e.currency}|${Math.floor(e.timestamp / 60_000) * 60_000}`;
      want.set(key, (want.get(key) ?? 0n) + 1_000_000n);
    }
    expect(differences(await stored('churns@2', 'metric_windows'), want)).toEqual([]);
    // The versions completed before stay complete.
    for (const [id, before] of await store.incompleteBefore(NEW_IDS)) expect(before, id).toBeNull();
  }, 180_000);
});
