/**
 * Benchmark (not a test): one model (`--model default | wide`, bench/model-gen.ts) in an
 * embedded app of this checkout — events/s through the real intake and aggregator of one
 * process (validation from the model, dedupe, event log, the model's cells in
 * metric_windows; `intake.submit`, 20,000 per batch, a flush after each), then a 12-tile
 * Query.metricSeries dashboard (30 days hourly + the previous 30 days) with its latency
 * and its ClickHouse reads. A side of `npm run bench -- --only model` (bench/entries/model.ts):
 * 'load' loads one chunk of the events, 'round' measures dashboards, 'finish' checks the
 * checked tile's totals against the events sent.
 *
 * BENCH_MODEL_EVENTS (default 200,000) events over 60 days, one tenant, 50k users.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { serveSide } from './harness/side.ts';
import { loadDashboardTarget, targetRoot } from './harness/target.ts';
import { CHECKED, COUNTRIES, dashboardOf, writeWideModel } from './model-gen.ts';
import { requireModel } from '../src/model/compile.ts';
import type { ModelPlan } from '../src/model/types.ts';

const EVENTS = Number(process.env.BENCH_MODEL_EVENTS ?? 200_000);
const BATCH = 20_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TENANT = 'bench';
const END = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const FROM = END - 30 * DAY;
const PREV_FROM = FROM - 30 * DAY;

const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'default' }, target: { type: 'string' } }, strict: false });
const which = args.model === 'wide' ? 'wide' : 'default';

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** EVENTS events of the plan's types in event-time order, every declared field filled (optional ones 85 % of the time). */
function generate(plan: ModelPlan): Record<string, unknown>[] {
  const rnd = prng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const types = [...plan.eventTypes.values()];
  const step = (END - PREV_FROM) / EVENTS;
  return Array.from({ length: EVENTS }, (_, k) => {
    const type = types[Math.floor(rnd() * types.length)]!;
    const e: Record<string, unknown> = { eventType: type.name, userId: `u${Math.floor(rnd() * 50_000)}`, tenantId: TENANT, traceId: (k + 1).toString(16).padStart(32, '0'), timestamp: Math.floor(PREV_FROM + k * step) };
    for (const f of type.fields.values()) {
      if (!f.required && rnd() > 0.85) continue;
      if (f.type === 'decimal') e[f.name] = `${1 + Math.floor(rnd() * 300)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
      else if (f.type === 'currency') e[f.name] = rnd() < 0.7 ? 'USD' : rnd() < 0.8 ? 'EUR' : 'GBP';
      else if (f.type === 'enum') e[f.name] = pick(f.values!);
      else if (f.type === 'boolean') e[f.name] = rnd() < 0.5;
      else if (f.type === 'integer') e[f.name] = f.minInt ?? 0;
      else e[f.name] = pick(COUNTRIES);
    }
    return e;
  });
}

async function main() {
  const root = targetRoot();
  const target = await loadDashboardTarget(root);
  const dataDir = mkdtempSync(join(tmpdir(), 'tilecast-bench-model-'));
  const modelPath = which === 'wide' ? writeWideModel(dataDir) : join(root, 'models/default.yaml');
  const plan = await requireModel(modelPath);
  const events = generate(plan);
  const config = target.loadConfig({ DATA_DIR: join(dataDir, 'chdb'), PORT: '0', LOG_LEVEL: 'warn', FLUSH_INTERVAL_MS: '3600000', RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000', TILECAST_MODEL: modelPath });
  const app = await target.createApp({ config });
  try {
    const { url } = await app.start();
    const token = await app.tokens.mint({ tenantId: TENANT, scope: 'read', ttlSeconds: 7200 });
    const reads = async () => (await app.metrics.clickhouseQueries.get()).values.filter((v) => v.labels.kind === 'read').reduce((s, v) => s + v.value, 0);
    const range = `from: "${new Date(FROM).toISOString()}", to: "${new Date(END).toISOString()}", granularity: HOUR, compareTo: PREVIOUS_PERIOD`;
    const query = dashboardOf(which, range);
    type Tile = { total: string; comparison: { total: string } };
    const dashboard = async () => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { data?: Record<string, Tile>; errors?: unknown };
      if (body.errors || !body.data) throw new Error(`dashboard failed: ${JSON.stringify(body.errors)}`);
      return body.data;
    };
    let loaded = 0;
    let warm = false;
    await serveSide(
      { target: root, model: which, metrics: plan.versions.length, events: EVENTS },
      {
        load: async (a) => {
          const { chunk, chunks } = a as { chunk: number; chunks: number };
          const slice = events.slice(Math.floor((chunk * EVENTS) / chunks), Math.floor(((chunk + 1) * EVENTS) / chunks));
          const t0 = performance.now();
          for (let i = 0; i < slice.length; i += BATCH) {
            const batch = slice.slice(i, i + BATCH).map((e) => ({ raw: JSON.stringify(e), value: e, item: { value: e } }));
            const r = await app.intake.submit(TENANT, batch as never);
            if (r.accepted !== batch.length) throw new Error(`the intake accepted ${r.accepted} of ${batch.length}: ${JSON.stringify(r.rejected.slice(0, 3))}`);
            await app.aggregator.flush();
          }
          await app.aggregator.flush();
          loaded += slice.length;
          return { events: slice.length, rate: slice.length / ((performance.now() - t0) / 1000) };
        },
        round: async (a) => {
          const { runs } = a as { runs: number };
          if (!warm) {
            const merging = async () => (await app.db.query({ queryId: 'bench.merges', sql: 'SELECT count() AS n FROM system.merges', row: z.object({ n: z.coerce.number() }) }))[0]!.n;
            const t0 = performance.now();
            while ((await merging()) > 0 && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 500));
            for (let i = 0; i < 3; i++) await dashboard();
            warm = true;
          }
          const before = await reads();
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            await dashboard();
            times.push(performance.now() - t0);
          }
          return { times, reads: ((await reads()) - before) / runs };
        },
        finish: async () => {
          const d = await dashboard();
          const { tile, eventType } = CHECKED[which];
          const count = (from: number, to: number) => events.filter((e) => e.eventType === eventType && (e.timestamp as number) >= from && (e.timestamp as number) < to).length;
          const want = [String(count(FROM, END)), String(count(PREV_FROM, FROM))];
          const got = [d[tile]!.total, d[tile]!.comparison.total];
          const wrong = loaded === EVENTS && got.join() === want.join() ? [] : [`${tile}: ${got.join(' / ')} ≠ ${want.join(' / ')} (loaded ${loaded} of ${EVENTS})`];
          return { wrong, summary: `${tile} ${got.join(' / ')} (30 days / previous 30 days) = the ${eventType} events sent` };
        },
      },
    );
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
