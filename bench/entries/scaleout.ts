/**
 * `npm run bench -- --only scaleout`: bench/kafka-scaleout.ts on both sides, one process per
 * measurement, alternating sides. Each measurement runs 1 worker and then a consumer group
 * of BENCH_SCALEOUT_WORKERS (default 2) `tilecast worker` processes over one chdb-server on
 * a 4-partition topic of the same records, and checks the stored totals against the events
 * sent; by default a third run kills one worker midway and restarts it, and must still store
 * every event exactly once (BENCH_SCALEOUT_RESTART=0 leaves it out).
 *
 * BENCH_SCALEOUT_EVENTS (default 300,000) sets the events; `--rounds` (default 1: the
 * figure of interest is the ratio within one run) the rounds.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Scenario } from '../kafka-scaleout.ts';
import { median, spread, interleave } from '../harness/stats.ts';
import { startSide } from '../harness/side.ts';
import { assertTarget } from '../harness/target.ts';
import type { BenchEntry, MetricRow } from '../harness/types.ts';

type Result = { events: number; target: string; scenarios: Scenario[] };

export const scaleout: BenchEntry = {
  name: 'scaleout',
  title: 'Kafka scale-out: 1 vs 2 worker processes, one group, one ClickHouse (bench/kafka-scaleout.ts)',
  duration: '~3–6 min',
  async run(ctx) {
    const rounds = ctx.rounds ?? 1;
    const events = process.env.BENCH_SCALEOUT_EVENTS ?? '300000';
    const workers = process.env.BENCH_SCALEOUT_WORKERS ?? '2';
    const restart = process.env.BENCH_SCALEOUT_RESTART !== '0';
    const brokers =
      process.env.KAFKA_BROKERS ??
      process.env.TILECAST_TEST_KAFKA_BROKERS ??
      execFileSync('bash', ['scripts/kafka/kafka.sh', 'start'], { cwd: ctx.root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const [b, c] = await interleave(rounds, async (s, r) => {
      const spec = ctx.sides[s];
      ctx.log(`scaleout: round ${r + 1}/${rounds}, ${spec.name}`);
      const side = startSide<Result>({
        script: join(ctx.root, 'bench/kafka-scaleout.ts'),
        target: spec.dir,
        label: `scaleout ${spec.name}`,
        cwd: ctx.root,
        args: ['--events', events, '--workers', workers, ...(restart ? ['--restart'] : [])],
        env: { ...ctx.env, KAFKA_BROKERS: brokers },
      });
      const result = await side.ready;
      await side.exited;
      assertTarget(spec, result.target);
      return result;
    });
    const per = { baseline: b, current: c };
    const row = (metric: string, unit: string, better: MetricRow['better'], pick: (r: Result) => number, decimals: number): MetricRow => {
      const vals = (side: 'baseline' | 'current') => per[side].map(pick);
      const fig = { baseline: median(vals('baseline')), current: median(vals('current')) };
      return { metric: `scaleout: ${metric}`, unit, better, ...fig, spread: { baseline: spread(vals('baseline'), fig.baseline), current: spread(vals('current'), fig.current) }, rounds, decimals };
    };
    const one = (r: Result) => r.scenarios[0]!;
    const many = (r: Result) => r.scenarios[1]!;
    const rows: MetricRow[] = [
      row('1 worker throughput', 'events/s', 'higher', (r) => one(r).rate, 0),
      row(`${workers} workers throughput (total)`, 'events/s', 'higher', (r) => many(r).rate, 0),
      row(`${workers} workers ÷ 1 worker`, '', 'higher', (r) => many(r).rate / one(r).rate, 2),
      row(`${workers} workers: CPU per event, worker processes`, 'µs', 'lower', (r) => many(r).cpuWorkers, 1),
      row(`${workers} workers: CPU per event, chdb-server`, 'µs', 'lower', (r) => many(r).cpuClickHouse, 1),
      row(`${workers} workers: smallest worker's share of the events`, '', 'info', (r) => Math.min(...many(r).shares.map((s) => s.events)) / many(r).events, 2),
    ];
    const checks = ctx.sides.flatMap((s) =>
      per[s.name].flatMap((r, i) =>
        r.scenarios.map((x) => ({
          name: `scaleout ${s.name} round ${i + 1}, ${x.workers} worker${x.workers > 1 ? 's' : ''}${x.restart ? ' with a kill and restart' : ''}: stored totals = events sent`,
          ok: x.stored.windows === x.events && x.stored.eventLog === x.events,
          detail: `windows ${x.stored.windows.toLocaleString('en')}, event log ${x.stored.eventLog.toLocaleString('en')}, sent ${x.events.toLocaleString('en')}; consumed ${x.accepted.toLocaleString('en')}`,
        })),
      ),
    );
    return {
      rows,
      checks,
      notes: [`scaleout: ${rounds} round(s) × ${Number(events).toLocaleString('en')} events per side, 4 partitions, one chdb-server per scenario on the same machine as the workers and the broker (2 shared cores here: the group shares them); each side's own report (every worker's share) is in its log lines above`],
    };
  },
};
