/** What a bench entry of `npm run bench` is and returns (see bench/run.ts). */

export interface SideSpec {
  name: 'baseline' | 'current';
  /** The checkout whose src/ this side drives. */
  dir: string;
  /** `git rev-parse --short HEAD` there, plus "+changes" when its tree is dirty. */
  commit: string;
}

export interface BenchContext {
  /** [baseline, current]. */
  sides: readonly [SideSpec, SideSpec];
  /** Interleaved rounds per side (an entry may have its own default). */
  rounds: number | undefined;
  /** The current checkout: where the bench files run from. */
  root: string;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Environment for the sides (e.g. KAFKA_BROKERS resolved once). */
  env: NodeJS.ProcessEnv;
}

export interface MetricRow {
  metric: string;
  unit: string;
  /** Which way is better; 'exact' rows must equal `expect` on both sides, 'atMost' rows must not exceed it. */
  better: 'lower' | 'higher' | 'exact' | 'atMost' | 'info';
  baseline: number;
  current: number;
  /** Run-to-run noise per side: half the range of the per-round values, relative to the figure. */
  spread?: { baseline: number; current: number };
  /** Rounds behind `spread`: with fewer than 3 the noise is not known well enough for a verdict. */
  rounds?: number;
  expect?: number;
  /** Figures printed with this many decimals (default: by magnitude). */
  decimals?: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface BenchResult {
  rows: MetricRow[];
  /** Correctness checks (totals against the events sent, …): any failure fails the run. */
  checks: Check[];
  notes: string[];
}

export interface BenchEntry {
  name: string;
  title: string;
  /** Rough duration, shown by --list. */
  duration: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}
