/**
 * `npm run bench`: the benches of bench/entries/ for the current checkout and a baseline
 * checkout in the same run, interleaved (A B, B A, … rounds, so machine load falls on both
 * alike), then one table: metric, baseline, current, current ÷ baseline, run-to-run noise
 * of each side, and a verdict. Not a test; it fails (exit 1) only when a correctness check
 * does (totals against the events sent, reads per request) or a bench breaks.
 *
 *   npm run bench                                   # baseline: a worktree of main
 *   npm run bench -- --baseline-ref 668c256         # … of another commit (cached, reused)
 *   npm run bench -- --baseline ../other-checkout   # or BENCH_BASELINE=DIR
 *   npm run bench -- --only dashboard,kafka --rounds 4
 *   npm run bench -- --list
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ENTRIES } from './entries/index.ts';
import { describeCheckout, resolveBaseline } from './harness/baseline.ts';
import { HERE_ROOT } from './harness/target.ts';
import type { BenchResult, Check, MetricRow, SideSpec } from './harness/types.ts';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    'baseline-ref': { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help || args.list) {
  if (args.help) console.log('npm run bench -- [--baseline DIR | --baseline-ref REF] [--only NAME,…] [--rounds N] [--list]\n');
  for (const e of ENTRIES) console.log(`${e.name.padEnd(12)} ${e.title} — ${e.duration}`);
  process.exit(0);
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const selected = args.only ? args.only.split(',').map((s) => s.trim()).filter(Boolean) : ENTRIES.map((e) => e.name);
const unknown = selected.filter((n) => !ENTRIES.some((e) => e.name === n));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${ENTRIES.map((e) => e.name).join(', ')}`);
  process.exit(2);
}
const rounds = args.rounds === undefined ? undefined : Number(args.rounds);
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`--rounds ${args.rounds}: a whole number ≥ 1`);
  process.exit(2);
}

const baseline = resolveBaseline({ root: HERE_ROOT, dir: args.baseline ?? process.env.BENCH_BASELINE, ref: args['baseline-ref'], log });
const current: SideSpec = { name: 'current', dir: HERE_ROOT, commit: describeCheckout(HERE_ROOT) };
const sides = [baseline, current] as const;

const startedAt = new Date();
const load0 = loadavg();
const header = [
  `tilecast bench, ${startedAt.toISOString()}, ${cpus().length} cores, load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}`,
  `  baseline ${baseline.commit.padEnd(16)} ${baseline.dir}`,
  `  current  ${current.commit.padEnd(16)} ${current.dir}`,
];
log(header.join('\n'));

const results: { name: string; result?: BenchResult; error?: string }[] = [];
for (const entry of ENTRIES.filter((e) => selected.includes(e.name))) {
  log(`\n== ${entry.name}: ${entry.title}`);
  const t0 = performance.now();
  try {
    results.push({ name: entry.name, result: await entry.run({ sides, rounds, root: HERE_ROOT, log, env: {} }) });
  } catch (err) {
    results.push({ name: entry.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  log(`== ${entry.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

// ---------------------------------------------------------------- the table
const num = (x: number, decimals?: number) => {
  if (!Number.isFinite(x)) return String(x);
  const d = decimals ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
};
const pct = (x: number | undefined) => (x === undefined ? '' : `±${(100 * x).toFixed(0)}%`);

/** "better"/"worse" only past the two sides' run-to-run spreads added up; else "same (noise)". */
function verdict(r: MetricRow): string {
  if (r.better === 'info') return '';
  if (r.better === 'exact') return r.baseline === r.expect && r.current === r.expect ? `ok (= ${r.expect})` : `FAIL (must be ${r.expect})`;
  if (r.better === 'atMost') return r.baseline <= r.expect! && r.current <= r.expect! ? `ok (≤ ${r.expect})` : `FAIL (must be ≤ ${r.expect})`;
  if ((r.rounds ?? 0) < 3) return 'n/a (< 3 rounds)';
  const ratio = r.current / r.baseline;
  const tol = (r.spread?.baseline ?? 0) + (r.spread?.current ?? 0);
  const good = r.better === 'lower' ? ratio < 1 - tol : ratio > 1 + tol;
  const bad = r.better === 'lower' ? ratio > 1 + tol : ratio < 1 - tol;
  return good ? 'better' : bad ? 'WORSE' : 'same (within noise)';
}

const table: string[][] = [['metric', 'unit', 'baseline', 'current', 'cur/base', 'noise base', 'noise cur', 'verdict']];
const checks: Check[] = [];
const notes: string[] = [];
for (const { name, result, error } of results) {
  if (error) {
    checks.push({ name: `${name}: ran`, ok: false, detail: error });
    continue;
  }
  for (const r of result!.rows) table.push([r.metric, r.unit, num(r.baseline, r.decimals), num(r.current, r.decimals), (r.current / r.baseline).toFixed(2), pct(r.spread?.baseline), pct(r.spread?.current), verdict(r)]);
  for (const r of result!.rows.filter((x) => x.better === 'exact')) checks.push({ name: r.metric, ok: r.baseline === r.expect && r.current === r.expect, detail: `baseline ${r.baseline}, current ${r.current}, must be ${r.expect}` });
  for (const r of result!.rows.filter((x) => x.better === 'atMost')) checks.push({ name: r.metric, ok: r.baseline <= r.expect! && r.current <= r.expect!, detail: `baseline ${r.baseline}, current ${r.current}, must be ≤ ${r.expect}` });
  checks.push(...result!.checks);
  notes.push(...result!.notes);
}
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
const right = new Set([2, 3, 4, 5, 6]);
const line = (row: string[]) => row.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();

const out = [
  '',
  ...header,
  `  finished ${new Date().toISOString()}, load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  '',
  line(table[0]!),
  widths.map((w) => '-'.repeat(w)).join('  '),
  ...table.slice(1).map(line),
  '',
  'noise = half the range of the per-round figures, relative to the figure; a verdict other than',
  '"same" needs cur/base beyond both sides\' noise added up, and at least 3 rounds.',
  ...notes.map((n) => `- ${n}`),
  '',
  'checks:',
  ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
];
console.log(out.join('\n'));
process.exit(checks.every((c) => c.ok) ? 0 : 1);
