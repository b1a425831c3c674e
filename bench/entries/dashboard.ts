/**
 * `npm run bench -- --only dashboard`: bench/dashboard.ts on both sides. Each side loads
 * its own 1M events (one after the other), then rounds of one block per path alternate
 * between the sides; p50/p95 are over all of a side's samples, the spread over its rounds.
 *
 * BENCH_EVENTS (default 1,000,000) and BENCH_ROUND_RUNS (dashboards per path and round,
 * default 8) tune it; `--rounds` (default 5) sets the rounds. BENCH_DATA_DIR is not used
 * here: each side loads fresh data into a temporary directory of its own.
 */
import { join } from 'node:path';
import { percentile, spread, interleave } from '../harness/stats.ts';
import { startSide, type Side } from '../harness/side.ts';
import { assertTarget } from '../harness/target.ts';
import type { BenchEntry, Check, MetricRow } from '../harness/types.ts';

type Block = { label: string; times: number[]; reads: number; dbMs: number };
const PATHS = ['hourly', 'naive', 'minute', 'model', 'modelOffHour', 'modelOff', 'modelCold', 'modelLive'] as const;
type Round = Record<(typeof PATHS)[number], Block>;
const NAMES = {
  hourly: 'hourly, 30 d + comparison',
  minute: 'off-hour (minute windows)',
  naive: 'naive (12 raw-event requests)',
  model: 'model path, series cache warm',
  modelOffHour: 'model path, cache warm, off the hour',
  modelOff: 'model path, cache off',
  modelCold: 'model path, cache cold',
  modelLive: 'model path, cache warm, 20 events/s live',
};

export const dashboard: BenchEntry = {
  name: 'dashboard',
  title: '12-tile dashboard read (bench/dashboard.ts)',
  duration: '~6–10 min (two 1M-event loads)',
  async run(ctx) {
    const rounds = ctx.rounds ?? 5;
    const runs = Number(process.env.BENCH_ROUND_RUNS ?? 8);
    const sides: Side<{ loadRate: number; target: string }>[] = [];
    try {
      for (const s of ctx.sides) {
        ctx.log(`dashboard: loading ${s.name} (${s.commit})…`);
        const side = startSide<{ loadRate: number; target: string }>({ script: join(ctx.root, 'bench/dashboard.ts'), target: s.dir, label: `dashboard ${s.name}`, cwd: ctx.root, env: { ...ctx.env, BENCH_DATA_DIR: '' } });
        sides.push(side);
        assertTarget(s, (await side.ready).target);
      }
      const [b, c] = await interleave(rounds, async (s, r) => {
        ctx.log(`dashboard: round ${r + 1}/${rounds}, ${ctx.sides[s].name}`);
        return sides[s]!.request<Round>('round', { paths: PATHS, runs });
      });
      const per = { baseline: b, current: c };
      const rows: MetricRow[] = [];
      const latency = (path: (typeof PATHS)[number], p: 50 | 95): MetricRow => {
        const pooled = (rs: Round[]) => rs.flatMap((r) => r[path].times);
        const fig = { baseline: percentile(pooled(per.baseline), p), current: percentile(pooled(per.current), p) };
        const sp = (side: 'baseline' | 'current') => spread(per[side].map((r) => percentile(r[path].times, p)), fig[side]);
        return { metric: `dashboard ${NAMES[path]} p${p}`, unit: 'ms', better: 'lower', ...fig, spread: { baseline: sp('baseline'), current: sp('current') }, rounds, decimals: 1 };
      };
      for (const path of PATHS) rows.push(latency(path, 50), latency(path, 95));
      for (const [path, what] of [['hourly', 'dashboard'], ['model', 'model dashboard (cache warm)'], ['modelLive', 'model dashboard (warm, live)']] as const) {
        for (const p of [50, 95] as const) {
          const fig = (side: 'baseline' | 'current') => percentile(per[side].flatMap((r) => r.naive.times), p) / percentile(per[side].flatMap((r) => r[path].times), p);
          const sp = (side: 'baseline' | 'current') => spread(per[side].map((r) => percentile(r.naive.times, p) / percentile(r[path].times, p)), fig(side));
          rows.push({ metric: `${what} speed-up over naive, p${p}`, unit: '×', better: 'higher', baseline: fig('baseline'), current: fig('current'), spread: { baseline: sp('baseline'), current: sp('current') }, rounds, decimals: 1 });
        }
      }
      const mean = (side: 'baseline' | 'current', path: (typeof PATHS)[number], k: 'reads' | 'dbMs') => per[side].reduce((a, r) => a + r[path][k], 0) / per[side].length;
      for (const path of ['hourly', 'minute'] as const) rows.push({ metric: `ClickHouse reads per request, ${path === 'hourly' ? 'hourly' : 'off-hour'}`, unit: 'reads', better: 'atMost', expect: 1, baseline: mean('baseline', path, 'reads'), current: mean('current', path, 'reads'), decimals: 2 });
      rows.push({ metric: 'ClickHouse ms per hourly dashboard (mean)', unit: 'ms', better: 'info', baseline: mean('baseline', 'hourly', 'dbMs'), current: mean('current', 'hourly', 'dbMs'), decimals: 1 });
      const loads = await Promise.all(sides.map((s) => s.ready));
      rows.push({ metric: 'dashboard load through intake (1 run)', unit: 'events/s', better: 'info', baseline: loads[0]!.loadRate, current: loads[1]!.loadRate, decimals: 0 });

      const checks: Check[] = [];
      for (const [i, s] of ctx.sides.entries()) {
        const { wrong, summary } = await sides[i]!.request<{ wrong: string[]; summary: string }>('finish');
        checks.push({ name: `dashboard ${s.name}: totals equal the events sent`, ok: wrong.length === 0, detail: wrong.length ? wrong.join('; ') : summary });
        await sides[i]!.exited;
      }
      return { rows, checks, notes: [`dashboard: ${rounds} rounds × ${runs} dashboards per path and side (after 3 warm-ups each), sides alternating first; p50/p95 over all ${rounds * runs} samples of a side`] };
    } finally {
      for (const s of sides) s.kill();
    }
  },
};
