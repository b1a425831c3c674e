/**
 * `npm run bench -- --only kafka`: bench/kafka-throughput.ts on both sides, one process per
 * measurement, alternating sides (A B, B A, …). Each process produces its records to a
 * fresh topic, measures its in-process ceiling, times one worker and checks the windows
 * hold exactly the events sent (a mismatch fails the run). Figures are medians over rounds.
 *
 * BENCH_KAFKA_EVENTS (default 300,000), BENCH_KAFKA_CLICKHOUSE (embedded | server, default
 * embedded: the default worker deployment) and BENCH_KAFKA_FORMATS (default batched,single)
 * tune it; `--rounds` (default 3) sets the rounds. Broker: KAFKA_BROKERS or
 * TILECAST_TEST_KAFKA_BROKERS, else the local one (scripts/kafka/kafka.sh start).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { median, spread, interleave } from '../harness/stats.ts';
import { startSide } from '../harness/side.ts';
import { assertTarget } from '../harness/target.ts';
import type { BenchEntry, MetricRow } from '../harness/types.ts';

type Run = { rate: number; seconds: number; cpuPerEvent: number; mainCpuPerEvent?: number; otherCpuPerEvent?: number; records: number };
type Result = { events: number; target: string; ceilings: Record<'batched' | 'single', number>; results: Record<'batched' | 'single', Run | null> };

export const kafka: BenchEntry = {
  name: 'kafka',
  title: 'Kafka → committed windows, one worker (bench/kafka-throughput.ts)',
  duration: '~4–6 min',
  async run(ctx) {
    const rounds = ctx.rounds ?? 3;
    const events = process.env.BENCH_KAFKA_EVENTS ?? '300000';
    const clickhouse = process.env.BENCH_KAFKA_CLICKHOUSE ?? 'embedded';
    const formats = (process.env.BENCH_KAFKA_FORMATS ?? 'batched,single').split(',') as ('batched' | 'single')[];
    const brokers =
      process.env.KAFKA_BROKERS ??
      process.env.TILECAST_TEST_KAFKA_BROKERS ??
      execFileSync('bash', ['scripts/kafka/kafka.sh', 'start'], { cwd: ctx.root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const [b, c] = await interleave(rounds, async (s, r) => {
      const spec = ctx.sides[s];
      ctx.log(`kafka: round ${r + 1}/${rounds}, ${spec.name}`);
      const side = startSide<Result>({
        script: join(ctx.root, 'bench/kafka-throughput.ts'),
        target: spec.dir,
        label: `kafka ${spec.name}`,
        cwd: ctx.root,
        args: ['--events', events, '--clickhouse', clickhouse, '--formats', formats.join(',')],
        env: { ...ctx.env, KAFKA_BROKERS: brokers },
      });
      const result = await side.ready;
      await side.exited;
      assertTarget(spec, result.target);
      return result;
    });
    const per = { baseline: b, current: c };
    const rows: MetricRow[] = [];
    for (const f of formats) {
      const label = f === 'batched' ? 'batch records' : 'one record per event';
      const row = (metric: string, unit: string, better: MetricRow['better'], pick: (r: Result) => number, decimals: number): MetricRow => {
        const vals = (side: 'baseline' | 'current') => per[side].map(pick);
        const fig = { baseline: median(vals('baseline')), current: median(vals('current')) };
        return { metric: `kafka ${label}: ${metric}`, unit, better, ...fig, spread: { baseline: spread(vals('baseline'), fig.baseline), current: spread(vals('current'), fig.current) }, rounds, decimals };
      };
      rows.push(
        row('worker throughput', 'events/s', 'higher', (r) => r.results[f]!.rate, 0),
        row('in-process ceiling', 'events/s', 'info', (r) => r.ceilings[f], 0),
        row('ratio to ceiling', '', 'higher', (r) => r.results[f]!.rate / r.ceilings[f], 2),
        row('CPU per event (worker process)', 'µs', 'lower', (r) => r.results[f]!.cpuPerEvent, 1),
        row('CPU per event, main JS thread', 'µs', 'lower', (r) => r.results[f]!.mainCpuPerEvent ?? NaN, 1),
        row('CPU per event, other threads (chdb, libuv, GC)', 'µs', 'lower', (r) => r.results[f]!.otherCpuPerEvent ?? NaN, 1),
      );
    }
    return {
      rows,
      checks: ctx.sides.flatMap((s) => per[s.name].map((r, i) => ({ name: `kafka ${s.name} round ${i + 1}: windows hold every event sent`, ok: true, detail: `${r.events.toLocaleString('en')} events accepted and in windows, ${formats.join(' and ')}` }))),
      notes: [`kafka: ${rounds} rounds × ${Number(events).toLocaleString('en')} events per format and side, ClickHouse ${clickhouse}, one process per measurement, sides alternating first; figures are medians over rounds`],
    };
  },
};
