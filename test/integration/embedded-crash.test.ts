/**
 * Issue 2, done-when 5: `tilecast start` is killed with SIGKILL the instant a 202
 * arrives, several times, with client retries of batches whose fate it could not
 * know; restarted over the same DATA_DIR it has lost no accepted event and counted
 * none twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/auth/tokens.ts';
import { freshDataDir } from '../helpers/app.ts';
import { ALL_METRICS, generateDataset, groundTruth, valueOf, type GeneratedEvent } from '../helpers/dataset.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

const SECRET = 'crash-test-secret-0123456789abcdef0123456789';
const dataDir = freshDataDir('crash');
const tokens = createTokenService(SECRET);
let child: ChildProcess | null = null;

async function startTilecast(port: number): Promise<string> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), AUTH_SECRET: SECRET, LOG_LEVEL: 'warn', FLUSH_INTERVAL_MS: '250', TZ: 'UTC' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { timeoutMs: 60_000, what: 'tilecast to listen' });
  return url;
}

function kill9(): Promise<void> {
  const c = child!;
  child = null;
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

afterAll(async () => {
  if (child) await kill9();
});

describe('crash safety (embedded)', () => {
  it('loses nothing accepted and counts nothing twice across SIGKILLs right after 202', async () => {
    const now = Date.now();
    const { events } = generateDataset({
      seed: 7,
      tenants: ['crashco'],
      currencies: ['USD', 'JPY'],
      count: 3_000,
      start: now - 10 * 60_000,
      spanMs: 10 * 60_000,
      allowedLatenessMs: 10_000,
      duplicateRate: 0,
      invalidRate: 0,
    });
    const token = await tokens.mint({ tenantId: 'crashco', scope: 'admin', ttlSeconds: 3600 });
    const batches: GeneratedEvent[][] = [];
    for (let i = 0; i < events.length; i += 250) batches.push(events.slice(i, i + 250));
    const post = (url: string, batch: GeneratedEvent[]) =>
      fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(batch) });

    const port = await freePort();
    let next = 0;
    for (const perRound of [2, 3, 1, 4, 2]) {
      const url = await startTilecast(port);
      // A client retries the batch it sent last before the crash: it must count as duplicates.
      if (next > 0) {
        const retry = await post(url, batches[next - 1]!);
        expect(retry.status).toBe(202);
        expect(((await retry.json()) as { duplicates: number }).duplicates).toBe(batches[next - 1]!.length);
      }
      for (let k = 0; k < perRound && next < batches.length; k++, next++) {
        const res = await post(url, batches[next]!);
        expect(res.status).toBe(202);
        if (k === perRound - 1) await kill9(); // the instant the 202 is in
        else await res.json();
      }
    }
    expect(next).toBe(batches.length);

    const url = await startTilecast(port);
    const restartedAt = Date.now();
    const gql = async (query: string) => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      return (await res.json()) as { data: Record<string, { total: string; points: { start: string; value: string }[] }> & { freshness: { dataAsOf: string } } };
    };
    // Recovery has been flushed once freshness moves past the restart.
    await waitFor(async () => Date.parse((await gql('{ freshness { dataAsOf } }')).data.freshness.dataAsOf) > restartedAt, { timeoutMs: 30_000, what: 'a flush after restart' });

    const from = new Date(now - 20 * 60_000).toISOString();
    const to = new Date(now + 60_000).toISOString();
    const combos = ALL_METRICS.flatMap((m) => ['USD', 'JPY'].map((c) => ({ m, c })));
    const res = await gql(`{ ${combos.map(({ m, c }, i) => `s${i}: series(input: { metric: ${m}, currency: "${c}", from: "${from}", to: "${to}", granularity: MINUTE }) { total points { start value } }`).join('\n')} }`);
    combos.forEach(({ m, c }, i) => {
      const truth = groundTruth(events, 'crashco', c, (x) => Math.floor(x / 60_000) * 60_000);
      expect(res.data[`s${i}`]!.total, `${m} ${c}`).toBe(valueOf(truth.total, m));
      for (const p of res.data[`s${i}`]!.points) expect(p.value, `${m} ${c} ${p.start}`).toBe(valueOf(truth.buckets.get(Date.parse(p.start)), m));
    });
  }, 240_000);
});
