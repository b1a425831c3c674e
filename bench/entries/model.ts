/**
 * `npm run bench -- --only model`: bench/model.ts twice on the CURRENT checkout — the
 * default model and a generated one of 30 metrics over 3 dimensions (bench/model-gen.ts) —
 * so in its rows the "baseline" column is the default model and "current" the 30-metric
 * model (the baseline checkout is not used: it may predate the model). Both processes load
 * their events in `--rounds` chunks and measure dashboards in rounds, alternating which goes
 * first (A B, B A, …). Rows: intake events/s of one process (median over the chunks),
 * dashboard p50/p95 (pooled), ClickHouse reads per dashboard (must be 1).
 *
 * BENCH_MODEL_EVENTS (default 200,000) and BENCH_ROUND_RUNS (default 8) tune it.
 */
import { join } from 'node:path';
import { interleave, median, percentile, spread } from '../harness/stats.ts';
import { startSide, type Side } from '../harness/side.ts';
import { assertTarget } from '../harness/target.ts';
import type { BenchEntry, Check, MetricRow } from '../harness/types.ts';

type Ready = { target: string; model: string; metrics: number; events: number };
type Load = { events: number; rate: number };
type Round = { times: number[]; reads: number };
const MODELS = ['default', 'wide'] as const;

export const model: BenchEntry = {
  name: 'model',
  title: 'default model vs a generated 30-metric model: intake events/s and a 12-tile metricSeries dashboard (bench/model.ts)',
  duration: '~3–6 min',
  async run(ctx) {
    const rounds = ctx.rounds ?? 3;
    const runs = Number(process.env.BENCH_ROUND_RUNS ?? 8);
    const current = ctx.sides[1];
    const sides: Side<Ready>[] = [];
    try {
      for (const m of MODELS) {
        const side = startSide<Ready>({ script: join(ctx.root, 'bench/model.ts'), target: current.dir, label: `model ${m}`, cwd: ctx.root, args: ['--model', m], env: ctx.env });
        sides.push(side);
        assertTarget(current, (await side.ready).target);
      }
      const ready = await Promise.all(sides.map((s) => s.ready));
      const [ld, lw] = await interleave(rounds, async (s, r) => {
        ctx.log(`model: load chunk ${r + 1}/${rounds}, ${MODELS[s]} model`);
        return sides[s]!.request<Load>('load', { chunk: r, chunks: rounds });
      });
      const [rd, rw] = await interleave(rounds, async (s, r) => {
        ctx.log(`model: dashboard round ${r + 1}/${rounds}, ${MODELS[s]} model`);
        return sides[s]!.request<Round>('round', { runs });
      });
      const rates = { baseline: ld.map((x) => x.rate), current: lw.map((x) => x.rate) };
      const rowsOf = { baseline: rd, current: rw };
      const rows: MetricRow[] = [
        { metric: 'model: intake + aggregator events/s, one process', unit: 'events/s', better: 'info', baseline: median(rates.baseline), current: median(rates.current), spread: { baseline: spread(rates.baseline, median(rates.baseline)), current: spread(rates.current, median(rates.current)) }, rounds, decimals: 0 },
      ];
      for (const p of [50, 95] as const) {
        const fig = { baseline: percentile(rd.flatMap((r) => r.times), p), current: percentile(rw.flatMap((r) => r.times), p) };
        const sp = (k: 'baseline' | 'current') => spread(rowsOf[k].map((r) => percentile(r.times, p)), fig[k]);
        rows.push({ metric: `model: 12-tile metricSeries dashboard p${p}`, unit: 'ms', better: 'info', ...fig, spread: { baseline: sp('baseline'), current: sp('current') }, rounds, decimals: 1 });
      }
      const mean = (rs: Round[]) => rs.reduce((a, r) => a + r.reads, 0) / rs.length;
      rows.push({ metric: 'model: ClickHouse reads per dashboard', unit: 'reads', better: 'atMost', expect: 1, baseline: mean(rd), current: mean(rw), decimals: 2 });
      const checks: Check[] = [];
      for (const [i, m] of MODELS.entries()) {
        const { wrong, summary } = await sides[i]!.request<{ wrong: string[]; summary: string }>('finish');
        checks.push({ name: `model ${m}: totals equal the events sent`, ok: wrong.length === 0, detail: wrong.length ? wrong.join('; ') : summary });
        await sides[i]!.exited;
      }
      return {
        rows,
        checks,
        notes: [
          `model rows: baseline column = models/default.yaml (${ready[0]!.metrics} metrics), current column = the generated model (${ready[1]!.metrics} metrics over currency, plan, country), both on ${current.commit}; ${ready[0]!.events.toLocaleString('en')} events each over 60 days, loaded in ${rounds} alternating chunks; ${rounds} rounds × ${runs} dashboards (30 days hourly + previous 30 days) per model after 3 warm-ups`,
        ],
      };
    } finally {
      for (const s of sides) s.kill();
    }
  },
};
